internal import COpenBLAS

#if canImport(Glibc)
  import Glibc
#endif

/// Which OpenBLAS kernels this process runs, and which it should.
///
/// OpenBLAS picks its kernels when the library loads, from the CPU or from `OPENBLAS_CORETYPE`. An
/// OpenBLAS older than the CPU (Debian's 0.3.21 on Emerald Rapids Xeons) falls back to its generic
/// `Prescott` kernels, 5–6× slower in GEMM. `suggestedCoreType` names the kernel family the CPU
/// supports in that case, so a command can restart itself with `OPENBLAS_CORETYPE` set.
public enum BLASKernel {
  /// OpenBLAS's name for the kernels in use (`SkylakeX`, `Haswell`, `Prescott`, …).
  public static var name: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// `SkylakeX` (AVX-512 F/BW/DQ/VL) or `Haswell` (AVX2 + FMA) when OpenBLAS fell back to its generic
  /// x86-64 kernels on a CPU that has those instructions; `nil` when the kernels already fit, when
  /// `OPENBLAS_CORETYPE` is set, or off x86-64 Linux.
  public static func suggestedCoreType() -> String? {
    #if os(Linux) && arch(x86_64)
      guard getenv("OPENBLAS_CORETYPE") == nil, ["Prescott", "Core2", "Nehalem"].contains(name) else { return nil }
      guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
      defer { fclose(file) }
      var line: UnsafeMutablePointer<CChar>? = nil
      var capacity = 0
      defer { free(line) }
      while getline(&line, &capacity, file) > 0 {
        let text = String(cString: line!)
        guard text.hasPrefix("flags") else { continue }
        let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
      }
    #endif
    return nil
  }
}
