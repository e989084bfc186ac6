import DenseLinearAlgebra
import PipelineCore

#if canImport(Glibc)
  import Glibc
#endif

/// Makes a command run on the OpenBLAS kernels its CPU supports.
///
/// OpenBLAS picks its kernels when the library loads, before `main`; an OpenBLAS older than the CPU
/// falls back to generic kernels 5–6× slower in GEMM (Debian's 0.3.21 on Emerald Rapids Xeons). The
/// only fix from inside is to start again with `OPENBLAS_CORETYPE` set. Setting `OPENBLAS_CORETYPE`
/// yourself (any value) or `TCA_KEEP_BLAS_KERNEL=1` keeps the kernels OpenBLAS chose. Results
/// computed with different kernels can differ in the last bits; the same kernel gives the same bytes.
public enum NativeBLASKernel {
  /// Restarts this process (same arguments, same environment plus `OPENBLAS_CORETYPE`) when OpenBLAS
  /// fell back to generic kernels on a CPU with AVX2 or AVX-512; returns only when no restart is
  /// needed or the restart failed.
  public static func restartIfNeeded(_ diagnostics: Diagnostics) {
    #if os(Linux)
      guard FileSystem.environment("TCA_KEEP_BLAS_KERNEL") == nil, let core = BLASKernel.suggestedCoreType() else {
        return
      }
      let generic = BLASKernel.name
      setenv("OPENBLAS_CORETYPE", core, 1)
      diagnostics.detail(
        "OpenBLAS chose its generic \(generic) kernels on this CPU; restarting with OPENBLAS_CORETYPE=\(core)")
      var arguments: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
      execv("/proc/self/exe", &arguments)
      diagnostics.detail(
        "restarting failed (\(String(cString: strerror(errno)))); going on with the \(generic) kernels")
    #endif
  }
}
