import { createDevice } from '/work/main/src/gpu/device.ts';
import { MATMUL_REGISTER, MATMUL_WORKGROUP } from '/work/main/src/kernels/matmul.ts';
const gpu = await createDevice({ log: null });
for (const k of [MATMUL_WORKGROUP, MATMUL_REGISTER]) { const t0 = performance.now(); await gpu.compile(k); console.log(k.name, 'compiled', performance.now() - t0); }
