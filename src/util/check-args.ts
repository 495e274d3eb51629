// Argument checks shared across the layers, in the engine's error format.
import { InputError } from './errors.ts';

export function checkPositiveInt(where: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InputError(`${where}: bad ${name}, expected a positive integer, got ${value}`);
  }
}
