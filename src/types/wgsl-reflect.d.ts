// The ESM build of wgsl_reflect has the same API as the package's main entry (whose CommonJS exports Node's ESM
// loader cannot name), so it shares its declarations.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
