// The square products of the training loop (see gemm.hpp): a register-blocked kernel for
// small n, OpenBLAS (from the scipy-openblas32 wheel) or Eigen above that.
#include <deeplinear/gemm.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

#ifdef DEEPLINEAR_BLAS
extern "C" {
// The scipy-openblas32 wheel's library exports the CBLAS interface with a "scipy_" prefix, so
// it never collides with another BLAS in the process (numpy's own OpenBLAS included).
void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a,
                       int lda, const double* b, int ldb, double beta, double* c, int ldc);
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc);
void scipy_openblas_set_num_threads(int threads);
}
#endif

namespace deeplinear {

namespace {

std::atomic<int> requested_threads{0};  // 0: the BLAS still has its own default
std::atomic<int> small_split{0};        // set_small_split(): 0 timed, 1 always, 2 never

// Up to this n the small kernel runs (its operands stay in L1/L2 without packing); above it,
// the BLAS. Chosen from measurements on AVX2 (benchmarks/compare.py, docs in README).
constexpr Index kSmallMax = 80;

#if defined(__GNUC__) || defined(__clang__)
#define DEEPLINEAR_VECTOR_KERNEL 1
// One SIMD register of T (GCC/Clang vector extensions): 256-bit with AVX, 128-bit without.
#ifdef __AVX__
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
template <class T>
struct Simd {
    typedef T type __attribute__((vector_size(kVectorBytes)));
    static constexpr int width = kVectorBytes / static_cast<int>(sizeof(T));
    static type load(const T* p) {
        type v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    static void store(T* p, const type& v) { std::memcpy(p, &v, sizeof v); }
    // Rows x0..x3 of a 4×4 block (width 4) stored as its columns at p, p + stride, p + 2·stride,
    // p + 3·stride.
    static void transpose4_store(type x0, type x1, type x2, type x3, T* p, Index stride) {
        const type t0 = shuffle<0, 4, 2, 6>(x0, x1), t1 = shuffle<1, 5, 3, 7>(x0, x1);
        const type t2 = shuffle<0, 4, 2, 6>(x2, x3), t3 = shuffle<1, 5, 3, 7>(x2, x3);
        store(p, shuffle<0, 1, 4, 5>(t0, t2));
        store(p + stride, shuffle<0, 1, 4, 5>(t1, t3));
        store(p + 2 * stride, shuffle<2, 3, 6, 7>(t0, t2));
        store(p + 3 * stride, shuffle<2, 3, 6, 7>(t1, t3));
    }
    // Rows x0, x1 of a 2×4 block (width 4) stored as its columns (2 values each) at p,
    // p + stride, p + 2·stride, p + 3·stride.
    static void transpose2_store(type x0, type x1, T* p, Index stride) {
        const type t0 = shuffle<0, 4, 2, 6>(x0, x1), t1 = shuffle<1, 5, 3, 7>(x0, x1);
        T lanes[8];
        std::memcpy(lanes, &t0, sizeof t0);
        std::memcpy(lanes + 4, &t1, sizeof t1);
        std::memcpy(p, lanes, 2 * sizeof(T));
        std::memcpy(p + stride, lanes + 4, 2 * sizeof(T));
        std::memcpy(p + 2 * stride, lanes + 2, 2 * sizeof(T));
        std::memcpy(p + 3 * stride, lanes + 6, 2 * sizeof(T));
    }
    // Lanes i0..i3 of the concatenation (x, y) (width 4).
    template <int i0, int i1, int i2, int i3>
    static type shuffle(type x, type y) {
#ifdef __clang__
        return __builtin_shufflevector(x, y, i0, i1, i2, i3);
#else
        using Lane = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
        typedef Lane Mask __attribute__((vector_size(kVectorBytes)));
        return __builtin_shuffle(x, y, Mask{i0, i1, i2, i3});
#endif
    }
};

// What a kernel does with its product P = op(a)·b: c = P; c = P and c_t = Pᵀ; or
// c = c_in − scale·P (c_in may be c). c_t and c_in come in one argument, `aux`.
enum class Output { store, store_transposed, subtract };

#define DEEPLINEAR_INLINE inline __attribute__((always_inline))
// Every loop over a tile's rows and vectors unrolls completely: a loop left rolled indexes the
// accumulators at run time and so keeps them on the stack (GCC did, in the store epilogues).
#define DEEPLINEAR_UNROLL _Pragma("GCC unroll 16")

// Rows 0..R of P (columns [0, V·width)) = Σ_k a(r, k) · b[k, ·]; a(r, k) = a[r·ar + k·ak], so a
// row-major a (ar = n, ak = 1) and its transpose (ar = 1, ak = n) cost the same: the scalars
// of a are broadcast, the rows of b are loaded as vectors. R·V accumulators stay in registers
// (the first k initialises them: no zeroing pass). store_transposed also writes the tile into
// c_t = cᵀ (so that a later product with cᵀ streams rows too), by 4×4 and 2×4 transposes in
// registers where a vector holds 4 values and by scalar copies of the rows just stored for the
// rest: n² moves against n³ multiply-adds or a separate transpose. subtract scales the product
// only once it is complete, then subtracts it from c_in; it reads *scale there, through a
// pointer that may alias c, so that the compiler cannot keep the scale in a register during
// the loop (it would spill a row of b for it). Inlined into its callers: at n = 16 a tile is
// ~100 cycles of multiply-adds, and a call with its prologue would cost a third of that again.
template <class T, int R, int V, Output mode>
DEEPLINEAR_INLINE void tile(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale, Index n) {
    using S = Simd<T>;
    typename S::type acc[R][V], row[V];
    DEEPLINEAR_UNROLL
    for (int v = 0; v < V; ++v) row[v] = S::load(b + v * S::width);
    DEEPLINEAR_UNROLL
    for (int r = 0; r < R; ++r) {
        const T scalar = a[r * ar];
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) acc[r][v] = scalar * row[v];
    }
    for (Index k = 1; k < n; ++k) {
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) row[v] = S::load(b + k * n + v * S::width);
        DEEPLINEAR_UNROLL
        for (int r = 0; r < R; ++r) {
            const T scalar = a[r * ar + k * ak];
            DEEPLINEAR_UNROLL
            for (int v = 0; v < V; ++v) acc[r][v] += scalar * row[v];
        }
    }
    DEEPLINEAR_UNROLL
    for (int r = 0; r < R; ++r) {
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) {
            T* out = c + r * n + v * S::width;
            if constexpr (mode == Output::subtract) {
                S::store(out, S::load(aux + r * n + v * S::width) - *scale * acc[r][v]);
            } else {
                S::store(out, acc[r][v]);
            }
        }
    }
    if constexpr (mode == Output::store_transposed) {
        int r0 = 0;
        if constexpr (S::width == 4) {  // whole 4×4, then 2×4 blocks transposed in registers
            DEEPLINEAR_UNROLL
            for (; r0 + 4 <= R; r0 += 4) {
                DEEPLINEAR_UNROLL
                for (int v = 0; v < V; ++v) {
                    Simd<T>::transpose4_store(acc[r0][v], acc[r0 + 1][v], acc[r0 + 2][v], acc[r0 + 3][v],
                                              aux + v * 4 * n + r0, n);
                }
            }
            if constexpr (R % 4 >= 2) {
                DEEPLINEAR_UNROLL
                for (int v = 0; v < V; ++v) {
                    Simd<T>::transpose2_store(acc[r0][v], acc[r0 + 1][v], aux + v * 4 * n + r0, n);
                }
                r0 += 2;
            }
        }
        for (int col = 0; col < V * S::width; ++col) {
            DEEPLINEAR_UNROLL
            for (int r = r0; r < R; ++r) aux[col * n + r] = c[r * n + col];
        }
    }
}

// R consecutive rows of c, all n columns: two-vector tiles, then one-vector, then scalars.
// aux points at column `first row` of cᵀ (store_transposed) or at the first row of c_in
// (subtract).
template <class T, int R, Output mode>
DEEPLINEAR_INLINE void row_block(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale, Index n) {
    constexpr int width = Simd<T>::width;
    // aux for the tile at `column` (no arithmetic on the null aux of store)
    auto t = [&](Index column) {
        if constexpr (mode == Output::store_transposed) return aux + column * n;
        if constexpr (mode == Output::subtract) return aux + column;
        return aux;
    };
    Index j = 0;
    for (; j + 2 * width <= n; j += 2 * width) tile<T, R, 2, mode>(a, ar, ak, b + j, c + j, t(j), scale, n);
    for (; j + width <= n; j += width) tile<T, R, 1, mode>(a, ar, ak, b + j, c + j, t(j), scale, n);
    for (; j < n; ++j) {
        for (int r = 0; r < R; ++r) {
            T sum = T(0);
            for (Index k = 0; k < n; ++k) sum += a[r * ar + k * ak] * b[k * n + j];
            if constexpr (mode == Output::subtract) {
                c[r * n + j] = aux[r * n + j] - *scale * sum;
            } else {
                c[r * n + j] = sum;
                if constexpr (mode == Output::store_transposed) aux[j * n + r] = sum;
            }
        }
    }
}

// Rows [0, m) of P = op(a)·b into c as `mode` says (a, c and aux already offset to the first
// row). Blocks of 6 rows × 2 vectors: 12 accumulators + 2 rows of b + 1 broadcast fill the 16
// vector registers of AVX2 without spilling.
// Never inlined: inside it, `scale` is a pointer that may alias c (see tile).
template <class T, Output mode>
__attribute__((noinline)) void small_rows(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale,
                                          Index m, Index n) {
    constexpr int rows = 6;
    Index i = 0;
    auto t = [&](Index row) {
        if constexpr (mode == Output::store_transposed) return aux + row;
        if constexpr (mode == Output::subtract) return aux + row * n;
        return aux;
    };
    for (; i + rows <= m; i += rows) row_block<T, rows, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
    switch (m - i) {
        case 5: row_block<T, 5, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 4: row_block<T, 4, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 3: row_block<T, 3, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 2: row_block<T, 2, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 1: row_block<T, 1, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        default: break;
    }
}

// From this n, with threads > 1, the small kernel may share its 6-row blocks among OpenMP threads
// (SplitChoice decides, product by product).
// Below it a product takes a few microseconds, and waking the second thread for each one cost
// more than it saved (whole GD steps at n = 48: 0.65× one thread; n = 64: 1.1–1.2×, n = 80:
// 1.1–1.3×, on this project's shared 2-core machine).
constexpr Index kSmallParallelMin = 64;

#ifdef DEEPLINEAR_OPENMP
// Whether the small kernel shares a product's row blocks among the threads, chosen by timing both
// ways. The split gains while the other cores are free; while another process holds one, each
// split product waits for that core's turn and runs several times slower than on one thread (on
// a shared machine either lasts for seconds). Per calling thread, in cycles: kProbe products on
// one thread, then up to kProbe split (cut short once they have taken longer than the first
// kProbe did), then the faster way for a stretch of products that doubles, up to kLongest, for
// as long as the split keeps losing, so that probing a busy core costs little. The choice never
// changes a result (see small_gemm).
class SplitChoice {
public:
    // Whether the next product (n×n) is split.
    bool next(Index n) {
        if (n != n_) {  // a new size: probe afresh
            n_ = n;
            phase_ = Phase::alone;
            count_ = 0;
            time_alone_ = time_split_ = time_settle_ = 0.0;
            stretch_ = kShortest;
        }
        return phase_ == Phase::split || (phase_ == Phase::chosen && split_);
    }
    // The time the product announced by next() took.
    void done(double seconds) {
        ++count_;
        switch (phase_) {
            case Phase::alone:
                time_alone_ += seconds;
                if (count_ == kProbe) start(Phase::split);
                break;
            case Phase::split: {
                // The first kSettle split products wake the other threads (after a stretch on
                // one thread, they sleep): timed apart, and only against all of the budget.
                const bool settling = count_ <= kSettle;
                (settling ? time_settle_ : time_split_) += seconds;
                const double budget = time_alone_ * static_cast<double>(kProbe - kSettle) / kProbe;
                const bool lost = settling ? time_settle_ > time_alone_ : time_split_ > budget;
                if (lost || count_ == kProbe) {
                    split_ = !lost;
                    stretch_ = split_ ? kShortest : std::min(2 * stretch_, kLongest);
                    start(Phase::chosen);
                }
                break;
            }
            case Phase::chosen:
                if (count_ == stretch_) {
                    time_alone_ = time_split_ = time_settle_ = 0.0;
                    start(Phase::alone);
                }
                break;
        }
    }

private:
    enum class Phase { alone, split, chosen };
    static constexpr std::int64_t kProbe = 48, kSettle = 4, kShortest = 1024, kLongest = 1 << 16;
    void start(Phase phase) {
        phase_ = phase;
        count_ = 0;
    }
    Index n_ = -1;
    Phase phase_ = Phase::alone;
    std::int64_t count_ = 0, stretch_ = kShortest;
    bool split_ = false;
    double time_alone_ = 0.0, time_split_ = 0.0, time_settle_ = 0.0;
};
thread_local SplitChoice split_choice;
#endif

// P = op(a)·b into c as `mode` says. Every row of c is computed alike whichever thread takes it,
// so the threads never change a result.
template <class T, Output mode>
void small_gemm(const T* a, bool trans_a, const T* b, T* c, T* aux, const T* scale, Index n) {
    const Index ar = trans_a ? 1 : n, ak = trans_a ? n : 1;
#ifdef DEEPLINEAR_OPENMP
    const int threads = requested_threads.load(std::memory_order_relaxed);
    if (threads > 1 && n >= kSmallParallelMin && !omp_in_parallel()) {
        const int policy = small_split.load(std::memory_order_relaxed);
        const bool split = policy == 0 ? split_choice.next(n) : policy == 1;
        const auto start = std::chrono::steady_clock::now();
        if (split) {
#pragma omp parallel num_threads(threads)
            {
                const Index id = omp_get_thread_num(), count = omp_get_num_threads(), blocks = n / 6;
                const Index first = 6 * (blocks * id / count);
                const Index last = id + 1 == count ? n : 6 * (blocks * (id + 1) / count);
                T* part = aux;
                if constexpr (mode == Output::store_transposed) part = aux + first;
                if constexpr (mode == Output::subtract) part = aux + first * n;
                if (last > first) {
                    small_rows<T, mode>(a + first * ar, ar, ak, b, c + first * n, part, scale, last - first, n);
                }
            }
        } else {
            small_rows<T, mode>(a, ar, ak, b, c, aux, scale, n, n);
        }
        if (policy == 0) {
            split_choice.done(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        return;
    }
#endif
    small_rows<T, mode>(a, ar, ak, b, c, aux, scale, n, n);
}

// The kernel on op(b) (store, or subtract from c_in): it streams rows of b, so a transposed b
// is copied once into scratch (n² against n³ work).
template <class T, Output mode>
void small_product(const T* a, bool trans_a, const T* b, bool trans_b, const T* c_in, T* c, const T* scale, Index n,
                   T* scratch) {
    if (trans_b) {
        MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
        b = scratch;
    }
    // (the kernel only reads through aux in subtract mode)
    small_gemm<T, mode>(a, trans_a, b, c, const_cast<T*>(c_in), scale, n);
}
#endif

#if defined(DEEPLINEAR_VECTOR_KERNEL) && defined(__AVX2__) && defined(__FMA__)
#define DEEPLINEAR_MEDIUM_KERNEL 1
// Medium n, float64, one thread: a BLAS-style GEMM in miniature (op(b) packed once into 8-column
// panels, 6 rows of op(a) at a time into a k-major micro-panel, 6×8 tiles of 12 accumulators)
// that does one thing a BLAS cannot: while it computes, it streams into the cache the matrices
// that its caller says come next (Upcoming). A training step at these sizes walks through
// 3·L·n² values, more than the caches hold from L ≈ 8: every BLAS product waits for its
// operands to come from memory, while this kernel finds them already loaded. Whole GD steps
// against the BLAS (C++ harness, alternating runs, medians): d = 96, L = 16 1.14×; d = 128,
// L = 32 1.20× (L = 4: 1.18×); d = 160 1.14×; d = 192 1.13×. Above 192 the packed op(b) (n²
// values, no k-blocking) crowds the L2 and the gain is gone: d = 224 0.99×, 256 1.00×, 512 0.88×.
constexpr Index kMediumMax = 192;

namespace medium {

constexpr Index kRows = 6, kCols = 8;

// Panel p of op(b) (columns [8p, 8p + 8)) at bp + 8·n·p, k-major: bp[8·n·p + 8k + c] =
// op(b)(k, 8p + c), zero past column n.
void pack_b(const double* b, bool trans, Index n, double* bp) {
    for (Index j = 0; j < n; j += kCols) {
        double* panel = bp + j * n;
        const Index cols = std::min(kCols, n - j);
        Index k = 0;
        if (cols == kCols && !trans) {
            for (; k < n; ++k) std::memcpy(panel + k * kCols, b + k * n + j, kCols * sizeof(double));
        } else if (cols == kCols) {  // op(b)(k, j + c) = b[(j + c)·n + k]: 4×4 blocks transposed
            using S = Simd<double>;
            for (; k + 4 <= n; k += 4) {
                for (Index h = 0; h < 2; ++h) {
                    const double* rows = b + (j + 4 * h) * n + k;
                    S::transpose4_store(S::load(rows), S::load(rows + n), S::load(rows + 2 * n),
                                        S::load(rows + 3 * n), panel + k * kCols + 4 * h, kCols);
                }
            }
        }
        for (; k < n; ++k) {
            for (Index c = 0; c < kCols; ++c) {
                panel[k * kCols + c] = c < cols ? (trans ? b[(j + c) * n + k] : b[k * n + j + c]) : 0.0;
            }
        }
    }
}

// ap[6k + r] = op(a)(i + r, k) for r < rows, zero below.
void pack_a(const double* a, bool trans, Index n, Index i, Index rows, double* ap) {
    Index k = 0;
    if (rows == kRows && trans) {  // op(a)(i + r, k) = a[k·n + i + r]: 6 consecutive values
        for (; k < n; ++k) std::memcpy(ap + k * kRows, a + k * n + i, kRows * sizeof(double));
    } else if (rows == kRows) {  // rows 0–3 by a 4×4 transpose, rows 4–5 by a 2×4 one
        using S = Simd<double>;
        const double* r = a + i * n;
        for (; k + 4 <= n; k += 4) {
            double* out = ap + k * kRows;
            S::transpose4_store(S::load(r + k), S::load(r + n + k), S::load(r + 2 * n + k), S::load(r + 3 * n + k),
                                out, kRows);
            S::transpose2_store(S::load(r + 4 * n + k), S::load(r + 5 * n + k), out + 4, kRows);
        }
    }
    for (; k < n; ++k) {
        for (Index r = 0; r < kRows; ++r) {
            ap[k * kRows + r] = r < rows ? (trans ? a[k * n + i + r] : a[(i + r) * n + k]) : 0.0;
        }
    }
}

// Prefetches the Upcoming matrices (n² values each), one cache line per 8 steps of a tile's inner
// loop, at the pace that requests the last line with the product's last tiles.
class Prefetcher {
public:
    Prefetcher(const Upcoming& upcoming, Index n, Index tiles) {
        for (const void* m : upcoming.matrices) {
            if (m) regions_[count_++] = static_cast<const char*>(m);
        }
        bytes_ = n * n * static_cast<Index>(sizeof(double));
        const Index lines = count_ * ((bytes_ + kLine - 1) / kLine), slots = tiles * std::max<Index>(n / 8, 1);
        every_ = std::max<Index>(slots / std::max<Index>(lines, 1), 1);
    }
    // One slot: prefetches a line on every every_-th call while lines are left.
    DEEPLINEAR_INLINE void slot() {
        if (region_ == count_ || --countdown_ > 0) return;
        countdown_ = every_;
        _mm_prefetch(regions_[region_] + offset_, _MM_HINT_T1);
        offset_ += kLine;
        if (offset_ >= bytes_) {
            offset_ = 0;
            ++region_;
        }
    }

private:
    static constexpr Index kLine = 64;
    const char* regions_[3] = {nullptr, nullptr, nullptr};
    Index count_ = 0, region_ = 0, offset_ = 0, bytes_ = 0, every_ = 1, countdown_ = 1;
};

#define DEEPLINEAR_MEDIUM_STEP(k)                                                                        \
    {                                                                                                    \
        const __m256d b0 = _mm256_loadu_pd(bp + (k) * kCols), b1 = _mm256_loadu_pd(bp + (k) * kCols + 4); \
        const double* ak = ap + (k) * kRows;                                                             \
        __m256d x = _mm256_broadcast_sd(ak);                                                             \
        c00 = _mm256_fmadd_pd(x, b0, c00), c01 = _mm256_fmadd_pd(x, b1, c01);                            \
        x = _mm256_broadcast_sd(ak + 1);                                                                 \
        c10 = _mm256_fmadd_pd(x, b0, c10), c11 = _mm256_fmadd_pd(x, b1, c11);                            \
        x = _mm256_broadcast_sd(ak + 2);                                                                 \
        c20 = _mm256_fmadd_pd(x, b0, c20), c21 = _mm256_fmadd_pd(x, b1, c21);                            \
        x = _mm256_broadcast_sd(ak + 3);                                                                 \
        c30 = _mm256_fmadd_pd(x, b0, c30), c31 = _mm256_fmadd_pd(x, b1, c31);                            \
        x = _mm256_broadcast_sd(ak + 4);                                                                 \
        c40 = _mm256_fmadd_pd(x, b0, c40), c41 = _mm256_fmadd_pd(x, b1, c41);                            \
        x = _mm256_broadcast_sd(ak + 5);                                                                 \
        c50 = _mm256_fmadd_pd(x, b0, c50), c51 = _mm256_fmadd_pd(x, b1, c51);                            \
    }

// The 6×8 tile of P = op(a)·op(b) at rows/columns of the packed ap/bp: c = P or, in subtract
// mode, c = c_in − scale·P with the product complete before it is scaled (one rounding: fma).
// Only `rows` × `cols` of the tile are written.
template <Output mode>
DEEPLINEAR_INLINE void tile(const double* ap, const double* bp, double* c, const double* c_in, double scale,
                            Index n, Index rows, Index cols, Prefetcher& prefetch) {
    for (Index r = 0; r < rows; ++r) {  // the tile's lines of c (and c_in) on their way
        _mm_prefetch(reinterpret_cast<const char*>(c + r * n), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + r * n + kCols - 1), _MM_HINT_T0);
        if constexpr (mode == Output::subtract) {
            _mm_prefetch(reinterpret_cast<const char*>(c_in + r * n), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(c_in + r * n + kCols - 1), _MM_HINT_T0);
        }
    }
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
            c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        prefetch.slot();
        DEEPLINEAR_MEDIUM_STEP(k)
        DEEPLINEAR_MEDIUM_STEP(k + 1)
        DEEPLINEAR_MEDIUM_STEP(k + 2)
        DEEPLINEAR_MEDIUM_STEP(k + 3)
        DEEPLINEAR_MEDIUM_STEP(k + 4)
        DEEPLINEAR_MEDIUM_STEP(k + 5)
        DEEPLINEAR_MEDIUM_STEP(k + 6)
        DEEPLINEAR_MEDIUM_STEP(k + 7)
    }
    for (; k < n; ++k) DEEPLINEAR_MEDIUM_STEP(k)
    const __m256d acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    const __m256d minus_scale = _mm256_set1_pd(-scale);
    if (rows == kRows && cols == kCols) {
        DEEPLINEAR_UNROLL
        for (Index r = 0; r < kRows; ++r) {
            DEEPLINEAR_UNROLL
            for (Index v = 0; v < 2; ++v) {
                double* out = c + r * n + 4 * v;
                if constexpr (mode == Output::subtract) {
                    const __m256d from = _mm256_loadu_pd(c_in + r * n + 4 * v);
                    _mm256_storeu_pd(out, _mm256_fmadd_pd(minus_scale, acc[r][v], from));
                } else {
                    _mm256_storeu_pd(out, acc[r][v]);
                }
            }
        }
        return;
    }
    alignas(32) double part[kRows][kCols];
    for (Index r = 0; r < kRows; ++r) {
        _mm256_store_pd(part[r], acc[r][0]);
        _mm256_store_pd(part[r] + 4, acc[r][1]);
    }
    for (Index r = 0; r < rows; ++r) {
        for (Index col = 0; col < cols; ++col) {
            if constexpr (mode == Output::subtract) {
                c[r * n + col] = std::fma(-scale, part[r][col], c_in[r * n + col]);
            } else {
                c[r * n + col] = part[r][col];
            }
        }
    }
}
#undef DEEPLINEAR_MEDIUM_STEP

// P = op(a)·op(b) into c as `mode` says (store, or subtract from c_in, which may be c).
template <Output mode>
void product(const double* a, bool trans_a, const double* b, bool trans_b, const double* c_in, double* c,
             double scale, Index n, const Upcoming& upcoming) {
    // Per thread, grown once (no allocation in a training loop after its first product), the
    // packed panels at cache-line boundaries (a misaligned panel splits every other load).
    thread_local std::vector<double> buffer;
    const Index panels = (n + kCols - 1) / kCols, blocks = (n + kRows - 1) / kRows;
    const auto size = static_cast<std::size_t>((panels * kCols + kRows) * n + 8);
    if (buffer.size() < size) buffer.resize(size);
    double* bp = buffer.data() + (-reinterpret_cast<std::uintptr_t>(buffer.data()) / sizeof(double)) % 8;
    double* ap = bp + panels * kCols * n;  // 8·n·panels values: still aligned
    pack_b(b, trans_b, n, bp);
    Prefetcher prefetch(upcoming, n, panels * blocks);
    for (Index i = 0; i < n; i += kRows) {
        const Index rows = std::min(kRows, n - i);
        pack_a(a, trans_a, n, i, rows, ap);
        for (Index j = 0; j < n; j += kCols) {
            tile<mode>(ap, bp + j * n, c + i * n + j, mode == Output::subtract ? c_in + i * n + j : nullptr, scale, n,
                       rows, std::min(kCols, n - j), prefetch);
        }
    }
}

}  // namespace medium
#endif

template <class T>
void eigen_gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n) {
    const ConstMatrixMap<T> ma(a, n, n), mb(b, n, n);
    MatrixMap<T> mc(c, n, n);
    if (trans_a && trans_b) {
        mc.noalias() = ma.transpose() * mb.transpose();
    } else if (trans_a) {
        mc.noalias() = ma.transpose() * mb;
    } else if (trans_b) {
        mc.noalias() = ma * mb.transpose();
    } else {
        mc.noalias() = ma * mb;
    }
}

#ifdef DEEPLINEAR_BLAS
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
// c = alpha·op(a)·op(b) + beta·c
inline void blas_gemm(const double* a, bool ta, const double* b, bool tb, double* c, int n, double alpha = 1.0,
                      double beta = 0.0) {
    scipy_cblas_dgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n, beta, c,
                      n);
}
inline void blas_gemm(const float* a, bool ta, const float* b, bool tb, float* c, int n, float alpha = 1.0f,
                      float beta = 0.0f) {
    scipy_cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n, beta, c,
                      n);
}
#endif

enum class Backend { small, medium, blas, eigen };

// The one place that picks the back end for n×n products: the small kernel up to kSmallMax
// (GCC/Clang), the medium kernel up to kMediumMax (float64 on one thread, AVX2 with FMA), the
// BLAS while n fits its int interface (DEEPLINEAR_BLAS), Eigen otherwise.
template <class T>
Backend backend_for(Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) return Backend::small;
#endif
#ifdef DEEPLINEAR_MEDIUM_KERNEL
    if (std::is_same_v<T, double> && n <= kMediumMax && requested_threads.load(std::memory_order_relaxed) <= 1) {
        return Backend::medium;
    }
#endif
#ifdef DEEPLINEAR_BLAS
    if (n <= std::numeric_limits<int>::max()) return Backend::blas;
#endif
    (void)n;
    return Backend::eigen;
}

}  // namespace

const char* gemm_backend(Index n) {
    switch (backend_for<double>(n)) {
        case Backend::small: return "small";
        case Backend::medium: return "medium";
        case Backend::blas: return "blas";
        case Backend::eigen: break;
    }
    return "eigen";
}

template <class T>
void gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n, T* scratch, const Upcoming& upcoming) {
    const Backend backend = backend_for<T>(n);
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend == Backend::small) {
        small_product<T, Output::store>(a, trans_a, b, trans_b, nullptr, c, nullptr, n, scratch);
        return;
    }
#endif
#ifdef DEEPLINEAR_MEDIUM_KERNEL
    if constexpr (std::is_same_v<T, double>) {
        if (backend == Backend::medium) {
            medium::product<Output::store>(a, trans_a, b, trans_b, nullptr, c, 0.0, n, upcoming);
            return;
        }
    }
#endif
    (void)scratch;
    (void)upcoming;
#ifdef DEEPLINEAR_BLAS
    if (backend == Backend::blas) {
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n));
        return;
    }
#endif
    eigen_gemm(a, trans_a, b, trans_b, c, n);
}

template <class T>
void gemm_subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, Index n,
                   T* scratch, const Upcoming& upcoming) {
    if (scale == T(0)) {
        if (c_in != c) std::copy(c_in, c_in + n * n, c);
        return;
    }
    const Backend backend = backend_for<T>(n);
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend == Backend::small) {
        small_product<T, Output::subtract>(a, trans_a, b, trans_b, c_in, c, &scale, n, scratch);
        return;
    }
#endif
#ifdef DEEPLINEAR_MEDIUM_KERNEL
    if constexpr (std::is_same_v<T, double>) {
        if (backend == Backend::medium) {
            medium::product<Output::subtract>(a, trans_a, b, trans_b, c_in, c, scale, n, upcoming);
            return;
        }
    }
#endif
    (void)upcoming;
    if (c_in != c) std::copy(c_in, c_in + n * n, c);  // then in place
#ifdef DEEPLINEAR_BLAS
    if (backend == Backend::blas) {  // BLAS kernels scale their accumulated products by alpha, then add
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n), -scale, T(1));
        return;
    }
#endif
    // Eigen: the product in full into scratch, then scaled and subtracted
    eigen_gemm(a, trans_a, b, trans_b, scratch, n);
    MatrixMap<T>(c, n, n).noalias() -= scale * ConstMatrixMap<T>(scratch, n, n);
}

bool gemm_prefers_transposed(Index n) { return backend_for<double>(n) == Backend::small; }

template <class T>
void gemm_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend_for<T>(n) == Backend::small) {
        small_gemm<T, Output::store_transposed>(a, trans_a, b, c, c_t, nullptr, n);
        return;
    }
#endif
    gemm<T>(a, trans_a, b, false, c, n, nullptr);
    MatrixMap<T>(c_t, n, n).noalias() = ConstMatrixMap<T>(c, n, n).transpose();
}

void set_gemm_threads(int threads) {
    threads = std::max(threads, 1);
    // Process-wide, like the BLAS's own setting: concurrent calls with different counts only
    // change how fast the other runs, never their results.
    if (requested_threads.exchange(threads) == threads) return;
#ifdef DEEPLINEAR_BLAS
    scipy_openblas_set_num_threads(threads);
#endif
}

int gemm_threads() { return std::max(requested_threads.load(), 1); }

void set_small_split(int policy) { small_split.store(std::clamp(policy, 0, 2)); }

template void gemm<double>(const double*, bool, const double*, bool, double*, Index, double*, const Upcoming&);
template void gemm<float>(const float*, bool, const float*, bool, float*, Index, float*, const Upcoming&);
template void gemm_subtract<double>(const double*, bool, const double*, bool, double, const double*, double*, Index,
                                    double*, const Upcoming&);
template void gemm_subtract<float>(const float*, bool, const float*, bool, float, const float*, float*, Index,
                                   float*, const Upcoming&);
template void gemm_and_transpose<double>(const double*, bool, const double*, double*, double*, Index);
template void gemm_and_transpose<float>(const float*, bool, const float*, float*, float*, Index);

}  // namespace deeplinear
