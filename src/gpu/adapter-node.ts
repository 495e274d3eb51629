// Node side of createDevice: Dawn from the npm `webgpu` package. With no hardware adapter, point the Vulkan loader at
// a SwiftShader ICD (shipped by Chromium/Chrome) before asking again. Kept apart so browser bundles never import it.
import { existsSync, readdirSync } from 'node:fs';
import { DeviceError } from '../util/errors.ts';
import type { DeviceOptions } from './device.ts';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
  '/opt/google/chrome-beta/vk_swiftshader_icd.json',
  '/opt/chromium/vk_swiftshader_icd.json',
];

function findSwiftShaderIcd(): string | undefined {
  return SWIFTSHADER_ICDS.find((path) => existsSync(path));
}

/** On Linux a hardware adapter needs a DRM render node or an NVIDIA device node; without one, skip the probe. */
function mayHaveHardwareGpu(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD')) || existsSync('/dev/nvidiactl');
  } catch {
    return existsSync('/dev/nvidiactl');
  }
}

/** Dawn is an optional peer dependency of the package: browser apps never install it. */
async function importDawn(): Promise<typeof import('webgpu')> {
  try {
    return await import('webgpu');
  } catch (e) {
    const missing =
      (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /'webgpu'/.test(String(e));
    if (!missing) throw e;
    throw new DeviceError(
      "createDevice: WebGPU in Node, expected the npm package 'webgpu' (Dawn), got none installed; run `npm install webgpu`",
    );
  }
}

// Every Dawn instance stays referenced for the life of the process: if V8 collects one while a device made from it
// is in use, Dawn's callback processing touches freed memory (seen as SIGSEGV, futex errors or hangs).
const instances: unknown[] = [];

export async function requestNodeAdapter(
  options: DeviceOptions,
): Promise<{ adapter: GPUAdapter; software: boolean }> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const webgpu = await importDawn();
  Object.assign(globalThis, webgpu.globals);
  const request = () => {
    const instance = webgpu.create([]);
    instances.push(instance);
    return instance.requestAdapter({ powerPreference: options.powerPreference });
  };
  const userIcd = process.env.VK_ICD_FILENAMES;
  if (!options.forceSoftware && (userIcd || mayHaveHardwareGpu())) {
    const adapter = await request();
    if (adapter) return { adapter, software: false };
  }
  const icd = findSwiftShaderIcd();
  if (!icd) {
    throw new DeviceError(
      'createDevice: no WebGPU adapter, expected a hardware GPU or the SwiftShader Vulkan ICD, got neither',
      'install a software adapter with `apt-get install -y chromium libvulkan1` (it ships vk_swiftshader_icd.json)',
    );
  }
  process.env.VK_ICD_FILENAMES = icd;
  const adapter = await request();
  if (!adapter) {
    throw new DeviceError(
      `createDevice: SwiftShader ICD ${icd} gave no adapter, expected one software adapter, got none`,
      'the Vulkan loader may be missing: `apt-get install -y libvulkan1`, or run with LD_LIBRARY_PATH=/usr/lib/chromium',
    );
  }
  return { adapter, software: true };
}
