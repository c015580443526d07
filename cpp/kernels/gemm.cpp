// The square products of one call (see gemm.hpp): a register-blocked kernel for small n, a
// packed kernel for medium n, OpenBLAS (from the scipy-openblas32 wheel) or Eigen above that.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deeplinear/gemm.hpp>
#include <limits>
#include <type_traits>
#include <vector>

#include "blas.hpp"
#include "tuning.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

namespace {

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
        case 5:
            row_block<T, 5, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
            break;
        case 4:
            row_block<T, 4, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
            break;
        case 3:
            row_block<T, 3, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
            break;
        case 2:
            row_block<T, 2, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
            break;
        case 1:
            row_block<T, 1, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
            break;
        default:
            break;
    }
}

// Rows [first, last) of P = op(a)·b into c as `mode` says (c and aux not yet offset).
template <class T, Output mode>
void small_part(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale, Index first, Index last,
                Index n) {
    if (last <= first) return;
    T* part = aux;
    if constexpr (mode == Output::store_transposed) part = aux + first;
    if constexpr (mode == Output::subtract) part = aux + first * n;
    small_rows<T, mode>(a + first * ar, ar, ak, b, c + first * n, part, scale, last - first, n);
}

// The kernel on op(b) (store, or subtract from c_in): it streams rows of b, so a transposed b
// is copied once into scratch (n² against n³ work).
#endif

#if defined(DEEPLINEAR_VECTOR_KERNEL) && defined(__AVX2__) && defined(__FMA__)
#define DEEPLINEAR_MEDIUM_KERNEL 1
// Medium n, float64: a BLAS-style GEMM in miniature (op(b) packed once into 8-column panels, 6
// rows of op(a) at a time into a k-major micro-panel, 6×8 tiles of 12 accumulators) that does one
// thing a BLAS cannot: while it computes, it streams into the cache the matrices that its caller
// says come next (Upcoming). A training step at these sizes walks through 3·L·n² values, more
// than the caches hold from L ≈ 8: every BLAS product waits for its operands to come from
// memory, while this kernel finds them already loaded (measurements: tuning.hpp, kPackedMax).

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
                    S::transpose4_store(S::load(rows), S::load(rows + n), S::load(rows + 2 * n), S::load(rows + 3 * n),
                                        panel + k * kCols + 4 * h, kCols);
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
            S::transpose4_store(S::load(r + k), S::load(r + n + k), S::load(r + 2 * n + k), S::load(r + 3 * n + k), out,
                                kRows);
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

#define DEEPLINEAR_MEDIUM_STEP(k)                                                                         \
    {                                                                                                     \
        const __m256d b0 = _mm256_loadu_pd(bp + (k) * kCols), b1 = _mm256_loadu_pd(bp + (k) * kCols + 4); \
        const double* ak = ap + (k) * kRows;                                                              \
        __m256d x = _mm256_broadcast_sd(ak);                                                              \
        c00 = _mm256_fmadd_pd(x, b0, c00), c01 = _mm256_fmadd_pd(x, b1, c01);                             \
        x = _mm256_broadcast_sd(ak + 1);                                                                  \
        c10 = _mm256_fmadd_pd(x, b0, c10), c11 = _mm256_fmadd_pd(x, b1, c11);                             \
        x = _mm256_broadcast_sd(ak + 2);                                                                  \
        c20 = _mm256_fmadd_pd(x, b0, c20), c21 = _mm256_fmadd_pd(x, b1, c21);                             \
        x = _mm256_broadcast_sd(ak + 3);                                                                  \
        c30 = _mm256_fmadd_pd(x, b0, c30), c31 = _mm256_fmadd_pd(x, b1, c31);                             \
        x = _mm256_broadcast_sd(ak + 4);                                                                  \
        c40 = _mm256_fmadd_pd(x, b0, c40), c41 = _mm256_fmadd_pd(x, b1, c41);                             \
        x = _mm256_broadcast_sd(ak + 5);                                                                  \
        c50 = _mm256_fmadd_pd(x, b0, c50), c51 = _mm256_fmadd_pd(x, b1, c51);                             \
    }

// The 6×8 tile of P = op(a)·op(b) at rows/columns of the packed ap/bp: c = P or, in subtract
// mode, c = c_in − scale·P with the product complete before it is scaled (one rounding: fma).
// Only `rows` × `cols` of the tile are written.
template <Output mode>
DEEPLINEAR_INLINE void tile(const double* ap, const double* bp, double* c, const double* c_in, double scale, Index n,
                            Index rows, Index cols, Prefetcher& prefetch) {
    for (Index r = 0; r < rows; ++r) {  // the tile's lines of c (and c_in) on their way
        _mm_prefetch(reinterpret_cast<const char*>(c + r * n), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + r * n + kCols - 1), _MM_HINT_T0);
        if constexpr (mode == Output::subtract) {
            _mm_prefetch(reinterpret_cast<const char*>(c_in + r * n), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(c_in + r * n + kCols - 1), _MM_HINT_T0);
        }
    }
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
            c40 = c00, c41 = c00, c50 = c00, c51 = c00;
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
void product(const double* a, bool trans_a, const double* b, bool trans_b, const double* c_in, double* c, double scale,
             Index n, const Upcoming& upcoming) {
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

// c = alpha·op(a)·op(b) + beta·c on the BLAS, or on Eigen in a build without one.
template <class T>
void library_gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n, T alpha, T beta, int threads,
                  T* scratch) {
    if (blas::available()) {
        blas::gemm(a, trans_a, b, trans_b, c, static_cast<int>(n), alpha, beta, threads);
        return;
    }
    if (beta == T(0) && alpha == T(1)) {
        eigen_gemm(a, trans_a, b, trans_b, c, n);
        return;
    }
    eigen_gemm(a, trans_a, b, trans_b, scratch, n);
    MatrixMap<T>(c, n, n) = beta * MatrixMap<T>(c, n, n) + alpha * ConstMatrixMap<T>(scratch, n, n);
}

}  // namespace

template <class T>
Products<T>::Products(const ExecutionContext& context, Index n)
    : n_(n),
      backend_(choose_backend(context, n, dtype_of<T>)),
      isa_(context.isa),
      threads_(context.threads),
      split_rows_(splits_rows(context, n, backend_)),
      split_policy_(context.split) {
#ifndef DEEPLINEAR_MEDIUM_KERNEL
    if (backend_ == Backend::packed) backend_ = Backend::blas;
#endif
}

// P = op(a)·b into c as `mode` says, the rows shared among the threads where split_rows_ (and the
// timed policy finds it faster). Every row of c is computed alike whichever thread takes it, so
// the threads never change a result.
template <class T>
template <int mode_index>
void Products<T>::small(const T* a, bool trans_a, const T* b, T* c, T* aux, const T* scale) {
    constexpr auto mode = static_cast<Output>(mode_index);
    const Index n = n_, ar = trans_a ? 1 : n, ak = trans_a ? n : 1;
#ifdef DEEPLINEAR_OPENMP
    if (split_rows_ && !omp_in_parallel()) {
        const bool timed = split_policy_ == SplitPolicy::timed;
        const bool split = timed ? split_choice_.next(n) : split_policy_ == SplitPolicy::always;
        const auto start = std::chrono::steady_clock::now();
        if (split) {
#pragma omp parallel num_threads(threads_)
            {
                const Index id = omp_get_thread_num(), count = omp_get_num_threads(), blocks = n / 6;
                const Index first = 6 * (blocks * id / count);
                const Index last = id + 1 == count ? n : 6 * (blocks * (id + 1) / count);
                small_part<T, mode>(a, ar, ak, b, c, aux, scale, first, last, n);
            }
        } else {
            small_part<T, mode>(a, ar, ak, b, c, aux, scale, 0, n, n);
        }
        if (timed) {
            split_choice_.done(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        return;
    }
#endif
    small_part<T, mode>(a, ar, ak, b, c, aux, scale, 0, n, n);
}

template <class T>
void Products<T>::multiply(const T* a, bool trans_a, const T* b, bool trans_b, T* c, T* scratch,
                           const Upcoming& upcoming) {
    const Index n = n_;
    if (backend_ == Backend::small) {
        if (trans_b) {  // the kernel streams rows of b: a transposed b is copied once (n² against n³)
            MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
            b = scratch;
        }
        small<static_cast<int>(Output::store)>(a, trans_a, b, c, nullptr, nullptr);
        return;
    }
#ifdef DEEPLINEAR_MEDIUM_KERNEL
    if constexpr (std::is_same_v<T, double>) {
        if (backend_ == Backend::packed) {
            medium::product<Output::store>(a, trans_a, b, trans_b, nullptr, c, 0.0, n, upcoming);
            return;
        }
    }
#endif
    (void)upcoming;
    library_gemm(a, trans_a, b, trans_b, c, n, T(1), T(0), threads_, scratch);
}

template <class T>
void Products<T>::subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, T* scratch,
                           const Upcoming& upcoming) {
    const Index n = n_;
    if (scale == T(0)) {
        if (c_in != c) std::copy(c_in, c_in + n * n, c);
        return;
    }
    if (backend_ == Backend::small) {
        if (trans_b) {
            MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
            b = scratch;
        }
        // (the kernel only reads through aux in subtract mode)
        small<static_cast<int>(Output::subtract)>(a, trans_a, b, c, const_cast<T*>(c_in), &scale);
        return;
    }
#ifdef DEEPLINEAR_MEDIUM_KERNEL
    if constexpr (std::is_same_v<T, double>) {
        if (backend_ == Backend::packed) {
            medium::product<Output::subtract>(a, trans_a, b, trans_b, c_in, c, scale, n, upcoming);
            return;
        }
    }
#endif
    (void)upcoming;
    if (c_in != c) std::copy(c_in, c_in + n * n, c);  // then in place
    // BLAS kernels scale their accumulated products by alpha, then add
    library_gemm(a, trans_a, b, trans_b, c, n, -scale, T(1), threads_, scratch);
}

template <class T>
void Products<T>::multiply_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t) {
    if (backend_ == Backend::small) {
        small<static_cast<int>(Output::store_transposed)>(a, trans_a, b, c, c_t, nullptr);
        return;
    }
    multiply(a, trans_a, b, false, c, nullptr);
    MatrixMap<T>(c_t, n_, n_).noalias() = ConstMatrixMap<T>(c, n_, n_).transpose();
}

template <class T>
void Products<T>::subtract_matrix(const T* x, T scale, const T* c_in, T* c) const {
    for (Index i = 0; i < n_ * n_; ++i) c[i] = std::fma(-scale, x[i], c_in[i]);
}

template <class T>
T Products<T>::squared_norm(const T* x) const {
    return ConstMatrixMap<T>(x, n_, n_).squaredNorm();
}

template class Products<double>;
template class Products<float>;

}  // namespace deeplinear
