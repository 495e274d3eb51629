// Compiled compute pipelines, cached by the final WGSL text + entry point. Bind-group layouts come from the shader
// itself (wgsl_reflect), so no hand-written layout table can drift from it. Bindings are looked up by variable name.
import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ShaderError } from '../util/errors.ts';

/** Uniform values by member name (gpu.dispatch packs them into the kernel's uniform struct). */
export type Uniforms = Record<string, number>;

/** A WGSL compute kernel: its name labels the pipeline and every error about it. */
export interface Kernel {
  name: string;
  wgsl: string;
  entry?: string;
  /**
   * The least each storage binding must hold, in 4-byte elements (f32, i32 or u32 words), computed from the uniforms
   * it is dispatched with: gpu.dispatch refuses a shorter binding (check-buffer.ts checkSizes). One entry per binding.
   */
  sizes: (u: Uniforms) => Record<string, number>;
}

export interface UniformMember {
  name: string;
  offset: number;
  type: 'f32' | 'u32' | 'i32';
}

export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage' | 'read-only-storage';
  /** For the uniform: its members, packed by name at dispatch. */
  members?: UniformMember[];
  size?: number;
}

export interface CompiledKernel {
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  bindGroupLayout: GPUBindGroupLayout;
  bindings: BindingInfo[];
  /** Resolves once the driver has accepted the shader and pipeline; rejects with a ShaderError naming the kernel. */
  ready: Promise<void>;
}

function reflectBindings(kernel: Kernel): BindingInfo[] {
  const reflect = new WgslReflect(kernel.wgsl);
  const groups = reflect.getBindGroups();
  if (groups.length > 1) {
    throw new ShaderError(
      `${kernel.name}: bind groups, expected only @group(0), got ${groups.length} groups`,
    );
  }
  const out: BindingInfo[] = [];
  for (const v of groups[0] ?? []) {
    if (!v) continue;
    if (v.resourceType === ResourceType.Uniform) {
      const members = (v.members ?? []).map((m) => {
        const type = m.type.name;
        if (type !== 'f32' && type !== 'u32' && type !== 'i32') {
          throw new ShaderError(
            `${kernel.name}: uniform member '${m.name}' type, expected f32/u32/i32, got ${type}`,
          );
        }
        return { name: m.name, offset: m.offset, type } as UniformMember;
      });
      out.push({ name: v.name, binding: v.binding, kind: 'uniform', members, size: v.size });
    } else if (v.resourceType === ResourceType.Storage) {
      out.push({
        name: v.name,
        binding: v.binding,
        kind: v.access === 'read' ? 'read-only-storage' : 'storage',
      });
    } else {
      throw new ShaderError(
        `${kernel.name}: binding '${v.name}', expected a buffer, got resource type ${v.resourceType}`,
      );
    }
  }
  return out;
}

export class PipelineCache {
  private readonly cache = new Map<string, CompiledKernel>();
  /** Failed compilations not yet reported by checkAll(); the failed pipeline leaves the cache. */
  private readonly failures: Error[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly maxStorageBuffers: number,
  ) {}

  get size(): number {
    return this.cache.size;
  }

  get(kernel: Kernel): CompiledKernel {
    const entry = kernel.entry ?? 'main';
    const key = `${entry}\n${kernel.wgsl}`;
    let compiled = this.cache.get(key);
    if (!compiled) {
      compiled = this.compile(kernel, entry);
      this.cache.set(key, compiled);
    }
    return compiled;
  }

  private compile(kernel: Kernel, entry: string): CompiledKernel {
    const bindings = reflectBindings(kernel);
    const storageCount = bindings.filter((b) => b.kind !== 'uniform').length;
    if (storageCount > this.maxStorageBuffers) {
      throw new ShaderError(
        `${kernel.name}: storage buffers per shader stage, expected at most ${this.maxStorageBuffers} (device limit), got ${storageCount}`,
      );
    }
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: kernel.name, code: kernel.wgsl });
    const bindGroupLayout = device.createBindGroupLayout({
      label: kernel.name,
      entries: bindings.map((b) => ({
        binding: b.binding,
        visibility: 0x4, // GPUShaderStage.COMPUTE
        buffer: { type: b.kind },
      })),
    });
    const pipeline = device.createComputePipeline({
      label: kernel.name,
      layout: device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [bindGroupLayout] }),
      compute: { module, entryPoint: entry },
    });
    const ready = device.popErrorScope().then(async (error) => {
      if (!error) return;
      const info = await module.getCompilationInfo();
      const lines = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `  ${m.lineNum}:${m.linePos} ${m.message}`);
      const detail = lines.length ? `\n${lines.join('\n')}` : `\n  ${error.message}`;
      throw new ShaderError(
        `${kernel.name}: pipeline creation failed${detail}\n--- source ---\n${kernel.wgsl}`,
      );
    });
    ready.catch((e: Error) => {
      this.failures.push(e);
      this.cache.delete(`${entry}\n${kernel.wgsl}`);
    });
    return { kernel, pipeline, bindGroupLayout, bindings, ready };
  }

  /** Rejects with the first pipeline that failed to compile since the last check (each failure is reported once). */
  async checkAll(): Promise<void> {
    await Promise.allSettled([...this.cache.values()].map((c) => c.ready));
    const failed = this.failures.splice(0);
    if (failed.length) throw failed[0];
  }
}
