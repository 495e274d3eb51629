// createDevice(): finds a WebGPU adapter (navigator.gpu in a browser, Dawn via the npm `webgpu` package in Node),
// falls back to a software Vulkan ICD (SwiftShader) when no hardware adapter exists and says so, and requests the
// adapter's real limits because model weights exceed the 128 MiB default bindings.
import { DeviceError } from '../util/errors.ts';
import { Gpu } from './gpu.ts';

export interface DeviceOptions {
  /** Skip the hardware adapter and use the software one (Node only). */
  forceSoftware?: boolean;
  powerPreference?: GPUPowerPreference;
  /** Where to print the one-line adapter notice; null silences it. Defaults to console.error. */
  log?: ((line: string) => void) | null;
  /**
   * Bind at most this many bytes of a buffer at once, below the device's maxStorageBufferBindingSize (tests force it
   * low to split tensors the way a browser's 128 MiB default splits GPT-2's wte). A multiple of 256.
   */
  maxBindingBytes?: number;
}

/** Limits requested at the adapter's maximum instead of the WebGPU defaults. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

const OPTIONAL_FEATURES = ['timestamp-query', 'subgroups'] as GPUFeatureName[];

export async function createDevice(options: DeviceOptions = {}): Promise<Gpu> {
  const log = options.log === undefined ? (line: string) => console.error(line) : options.log;
  const browserGpu = typeof navigator !== 'undefined' ? (navigator as Navigator).gpu : undefined;
  let adapter: GPUAdapter | null;
  let software = false;
  if (browserGpu) {
    adapter = await browserGpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) {
      throw new DeviceError(
        'createDevice: navigator.gpu gave no adapter, expected a WebGPU adapter, got null',
        'enable WebGPU in the browser (Chrome: --enable-unsafe-webgpu) or serve the page from a secure context',
      );
    }
  } else {
    const { requestNodeAdapter } = await import('./adapter-node.ts');
    ({ adapter, software } = await requestNodeAdapter(options));
  }
  const info = adapter.info;
  software ||= isSoftwareAdapter(info);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ label: 'webgpu-sft', requiredLimits, requiredFeatures });
  const description = [info.vendor, info.architecture, info.description || info.device]
    .filter(Boolean)
    .join(' ');
  if (software && log)
    log(`webgpu-sft: no hardware GPU adapter found, using the software adapter (${description})`);
  // Kernels written for one subgroup width need the width fixed (SwiftShader: always 4).
  const sizes = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const subgroupSize =
    sizes.subgroupMinSize === sizes.subgroupMaxSize ? (sizes.subgroupMinSize ?? null) : null;
  try {
    return new Gpu(device, { description, software, subgroupSize, maxBindingBytes: options.maxBindingBytes });
  } catch (e) {
    device.destroy();
    throw e;
  }
}

function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.description} ${info.device}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
}
