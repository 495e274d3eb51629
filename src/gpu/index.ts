export { createDevice, type DeviceOptions } from './device.ts';
export { Gpu, STORAGE, type GpuStats, type Uniforms, type Workgroups, type Kernel } from './gpu.ts';
export { Scope } from './buffers.ts';
export { ShapeError, WeightsError, ShaderError, InputError, DeviceError } from '../util/errors.ts';
