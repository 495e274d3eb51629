// Kernels past the binding limit: the windowed cases of src/check/binding-windows.ts (also in `selftest`), each a
// kernel check rerun with the binding limit lowered so its large operands span several windows.
import { runChecks } from '../helpers/gpu.ts';
import { bindingWindowChecks } from '../../src/check/binding-windows.ts';

runChecks(bindingWindowChecks);
