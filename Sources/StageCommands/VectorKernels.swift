import Foundation
import PipelineCore

/// The CPU check for the soft-label kernels, which this build may compile for AVX2 and FMA, or
/// AVX-512 (Package.swift, `TCA_PORTABLE`, `TCA_NO_AVX512`): run before any of them, so an older CPU gets a clear message
/// instead of an illegal-instruction crash.
enum VectorKernels {
  /// The instruction-set extensions the build's kernels use; empty in a portable build.
  static var required: [String] {
    #if TCA_AVX512
      return ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
    #elseif TCA_VECTOR_KERNELS
      return ["avx2", "fma"]
    #else
      return []
    #endif
  }

  /// The required extensions `/proc/cpuinfo` does not list (none when it cannot be read: the
  /// check is then left to the CPU).
  static func missing(cpuInfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> [String] {
    guard !required.isEmpty, let cpuInfo,
      let line = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    let flags = Set(line.split(separator: " ").map(String.init))
    return required.filter { !flags.contains($0) }
  }

  /// Throws a usage error naming the missing extensions and how to build for this CPU.
  static func check() throws(PipelineError) {
    let absent = missing()
    guard absent.isEmpty else {
      throw .usage(
        "this build's soft-label kernels need \(absent.joined(separator: " and ").uppercased()), which this CPU lacks; rebuild on this machine with `make build` (or `TCA_NO_AVX512=1 make build` for AVX2, `TCA_PORTABLE=1 make build` for any x86-64)"
      )
    }
  }
}
