// jax-js (`@jax-js/jax`) on WebGPU, the second JavaScript peer of the bench. It opens its own device through
// navigator.gpu (it cannot take ours), on the same adapter: in a page the browser's, in Node Dawn's (bench/node.ts
// puts a navigator.gpu in place first). Its arrays follow move semantics: an argument is consumed unless `.ref`.
import type * as JAX from '@jax-js/jax';

export type Jax = typeof JAX;
export type JaxArray = JAX.Array;

/** Imports jax-js and makes WebGPU its default device; throws when it has no WebGPU backend here. */
export async function jaxOnWebGpu(): Promise<Jax> {
  const jax = await import('@jax-js/jax');
  const devices = await jax.init('webgpu');
  if (!devices.includes('webgpu'))
    throw new Error(`bench: jax-js devices, expected 'webgpu' among them, got [${devices.join(', ')}]`);
  jax.defaultDevice('webgpu');
  return jax;
}

/** A float32 array of `shape` on jax-js's default device. */
export function jaxArray(jax: Jax, data: Float32Array, shape: number[]): JaxArray {
  return jax.numpy.array(data, { shape });
}
