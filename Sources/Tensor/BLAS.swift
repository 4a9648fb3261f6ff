// The one place that calls BLAS. Every matrix product in Blip2Lab goes through `gemm`.

import CBLAS
import Foundation

/// C = alpha * op(A) * op(B) + beta * C, row-major, where op(X) is X or its transpose.
/// - Parameters: `m`, `n`, `k`: op(A) is m x k, op(B) is k x n, C is m x n; `lda`, `ldb`, `ldc` are the
///   row strides (in elements) of A, B and C as stored.
///
/// Threading is ours, not OpenBLAS's: OpenBLAS runs single-threaded (its idle workers spin and would
/// steal the cores from our other kernels), and a large product is split into blocks of C's rows (or
/// columns) computed on `Threads.count` threads (the `WorkerPool`).
@inline(__always)
func gemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    // An empty inner dimension: C = beta * C.
    for row in 0..<m {
      for col in 0..<n { c[row * ldc + col] = beta == 0 ? 0 : beta * c[row * ldc + col] }
    }
    return
  }
  BLASSetup.once()
  let threads = Threads.cached
  let work = m * n * k
  if threads > 1 && work >= 1 << 20 {
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let parts = Swift.min(threads, Swift.max(1, extent / 16))
    // Inside another parallel region (or with the pool busy) `run` declines and the product runs whole below.
    if parts > 1 && WorkerPool.shared.run(parts: parts, { part in
      // Block boundaries on multiples of 16 keep the kernels' panels aligned.
      let start = (extent * part / parts) & ~15
      let end = part == parts - 1 ? extent : (extent * (part + 1) / parts) & ~15
      if end <= start { return }
      if splitRows {
        let aBlock = transposeA ? a + start : a + start * lda
        sgemmCall(transposeA, transposeB, end - start, n, k, alpha, aBlock, lda, b, ldb, beta, c + start * ldc, ldc)
      } else {
        let bBlock = transposeB ? b + start * ldb : b + start
        sgemmCall(transposeA, transposeB, m, end - start, k, alpha, a, lda, bBlock, ldb, beta, c + start, ldc)
      }
    }) {
      return
    }
  }
  sgemmCall(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

/// The single call into cblas_sgemm.
@inline(__always)
private func sgemmCall(
  _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// One-time process setup, done at the first matrix product:
/// - OpenBLAS single-threaded, since `gemm` does the threading;
/// - glibc keeps freed large blocks for reuse instead of unmapping them: a training step allocates and
///   frees the same activation sizes every step, and fresh mmap'd pages cost a page fault and a zeroing
///   each (17% of a transformer block's time before this).
enum BLASSetup {
  static let configured: Bool = {
    openblas_set_num_threads(1)
    #if canImport(Glibc)
      _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // glibc's maximum: blocks up to 32 MiB come from the heap
      _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)  // keep up to 1 GiB of free heap before giving it back
    #endif
    return true
  }()

  @inline(__always) static func once() { _ = configured }
}

/// The number of threads Blip2Lab's kernels use: `OPENBLAS_NUM_THREADS` when set, else all cores.
public enum Threads {
  /// The configured thread count (at least 1).
  public static var count: Int {
    if let text = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], let value = Int(text),
      value > 0
    {
      return value
    }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
  }

  /// Runs `body` with OpenBLAS's own threading set to `count` threads (for measuring raw BLAS as a
  /// baseline), then returns OpenBLAS to the single thread `gemm` expects.
  public static func withOpenBLASThreads<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
    BLASSetup.once()
    openblas_set_num_threads(Int32(count))
    defer { openblas_set_num_threads(1) }
    return try body()
  }
}

/// A value passed to concurrent workers that the caller guarantees is used race-free (disjoint ranges).
struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
}

/// Runs `body` over `0..<count` split into contiguous chunks on up to `Threads.count` threads.
/// Work smaller than `grain` elements per thread runs inline on the calling thread.
@inline(__always)
func parallelFor(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
  let threads = min(Threads.cached, count / max(grain, 1))
  if threads <= 1 {
    body(0..<count)
    return
  }
  let ran = WorkerPool.shared.run(parts: threads) { chunk in
    body((count * chunk / threads)..<(count * (chunk + 1) / threads))
  }
  // The pool was busy (a parallel region inside another, or another thread's): run on this thread.
  if !ran { body(0..<count) }
}

extension Threads {
  /// `count`, read once (the environment does not change while a process runs).
  static let cached: Int = count
}
