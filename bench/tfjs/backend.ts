// TensorFlow.js on the bench's own GPUDevice. Its WebGPU backend is registered under the name 'webgpu' (the name its
// kernels are registered for) with a factory that wraps our device, so both engines run on one adapter, one device
// and one queue, in Node (Dawn) and in a page alike, and TF.js never opens an adapter of its own.
import type * as TF from '@tensorflow/tfjs';
import type { Gpu } from '../../src/gpu/gpu.ts';

export type Tfjs = typeof TF;

/** Imports TF.js and its WebGPU backend and makes that backend, on `gpu.device`, the active one. */
export async function tfjsOnDevice(gpu: Gpu): Promise<Tfjs> {
  markWebGpuPresent();
  const tf = await import('@tensorflow/tfjs');
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, gpu.device.adapterInfo));
  if (!(await tf.setBackend('webgpu')) || tf.getBackend() !== 'webgpu') {
    throw new Error(
      `bench: TF.js backend, expected 'webgpu' on the bench's device, got '${tf.getBackend()}'`,
    );
  }
  return tf;
}

// WebGPUBackend's constructor refuses to run unless navigator.gpu exists, which Node (Dawn through the npm `webgpu`
// package) lacks. There it gets a marker whose requestAdapter fails loudly: TF.js must use the device given above.
function markWebGpuPresent(): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  const marker = {
    requestAdapter: () =>
      Promise.reject(
        new Error(
          'bench: navigator.gpu.requestAdapter, expected no call (TF.js shares the bench device), got one',
        ),
      ),
  };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: marker, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: marker }, configurable: true });
}
