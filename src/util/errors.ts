// The few error kinds of the engine. Messages read `<where>: <what>, expected <x>, got <y>` plus an optional hint line.

function withHint(message: string, hint?: string): string {
  return hint ? `${message}\nhint: ${hint}` : message;
}

/** A tensor or argument has the wrong shape or size. */
export class ShapeError extends Error {
  constructor(message: string, hint?: string) {
    super(withHint(message, hint));
    this.name = 'ShapeError';
  }
}

/** A weights file (safetensors, config) is malformed or does not match the model. */
export class WeightsError extends Error {
  constructor(message: string, hint?: string) {
    super(withHint(message, hint));
    this.name = 'WeightsError';
  }
}

/** A WGSL shader failed to compile, or a GPU command failed validation. */
export class ShaderError extends Error {
  constructor(message: string, hint?: string) {
    super(withHint(message, hint));
    this.name = 'ShaderError';
  }
}

/** User input (data file, flag, token id) is invalid. */
export class InputError extends Error {
  constructor(message: string, hint?: string) {
    super(withHint(message, hint));
    this.name = 'InputError';
  }
}

/** No usable GPU adapter or device, or the device was lost. */
export class DeviceError extends Error {
  constructor(message: string, hint?: string) {
    super(withHint(message, hint));
    this.name = 'DeviceError';
  }
}
