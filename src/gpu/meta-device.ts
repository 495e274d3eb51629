// A device that runs nothing and holds nothing: buffers are sizes, dispatches are dropped, reads give zeros. The
// engine's own code runs on it unchanged (models, autograd, optimizer), so the buffer pool counts exactly the bytes
// a real step would allocate, for any shape, in milliseconds and without the memory (PyTorch's "meta" device, JAX's
// eval_shape). The memory planner (sft/memory-plan.ts) uses it; nothing it computes is meaningful but its sizes.
import { Gpu } from './gpu.ts';

/** The limits a browser gets without asking (WebGPU's defaults), the planner's assumption when none are given. */
export const DEFAULT_LIMITS = {
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  minStorageBufferOffsetAlignment: 256,
} as const;

/** The limits to plan for, and whether the adapter is a software one (some kernels size their scratch by kind). */
export type MetaLimits = Partial<Record<keyof typeof DEFAULT_LIMITS, number>> & { software?: boolean };

/**
 * A real device's limits for the meta device, read one by one (a GPUSupportedLimits has its values as getters, so
 * spreading one copies nothing), the binding limit as the Gpu applies it (maxBindingBytes, forced lower or not).
 */
export function metaLimitsOf(gpu: Gpu): MetaLimits {
  const out: MetaLimits = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[])
    out[key] = gpu.limits[key];
  out.maxStorageBufferBindingSize = gpu.maxBindingBytes;
  out.software = gpu.software;
  return out;
}

const nothing = () => undefined;

function metaBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
  return {
    label: descriptor.label ?? '',
    size: descriptor.size,
    usage: descriptor.usage,
    mapState: 'unmapped',
    destroy: nothing,
    unmap: nothing,
    mapAsync: () => Promise.resolve(),
    getMappedRange: (offset = 0, size?: number) => new ArrayBuffer(size ?? descriptor.size - offset),
  } as unknown as GPUBuffer;
}

function metaPass(): GPUComputePassEncoder {
  return {
    setPipeline: nothing,
    setBindGroup: nothing,
    dispatchWorkgroups: nothing,
    end: nothing,
  } as unknown as GPUComputePassEncoder;
}

function metaEncoder(): GPUCommandEncoder {
  return {
    beginComputePass: metaPass,
    copyBufferToBuffer: nothing,
    clearBuffer: nothing,
    finish: () => ({}) as GPUCommandBuffer,
  } as unknown as GPUCommandEncoder;
}

/** A Gpu whose device allocates nothing, with the given limits (WebGPU's defaults for those not given). */
export function createMetaGpu({ software = false, ...limits }: MetaLimits = {}): Gpu {
  const all = { ...DEFAULT_LIMITS, ...limits };
  const device = {
    label: 'meta',
    limits: all,
    features: new Set<string>(),
    lost: new Promise<never>(nothing),
    addEventListener: nothing,
    pushErrorScope: nothing,
    popErrorScope: () => Promise.resolve(null),
    createShaderModule: () => ({ getCompilationInfo: () => Promise.resolve({ messages: [] }) }),
    createBindGroupLayout: () => ({}),
    createPipelineLayout: () => ({}),
    createComputePipeline: () => ({}),
    createBindGroup: () => ({}),
    createBuffer: metaBuffer,
    createCommandEncoder: metaEncoder,
    queue: { writeBuffer: nothing, submit: nothing, onSubmittedWorkDone: () => Promise.resolve() },
    destroy: nothing,
  } as unknown as GPUDevice;
  return new Gpu(device, { description: 'meta device (counts bytes, runs nothing)', software });
}
