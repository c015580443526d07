// The interface between the dispatch (gemm.cpp, fixed_steps.cpp) and the kernels of one
// instruction set (variant_generic.cpp, variant_avx2.cpp, variant_avx512.cpp): tables of plain
// function pointers, one per scalar type and instruction set, chosen once per call.
//
// THE ARITHMETIC CONTRACT. Every kernel of ours (generic, AVX2, AVX-512; small, packed, fixed-size;
// any thread split) computes element (i, j) of P = op(a)·op(b) as the chain
//     p = a_{i0}·b_{0j},   p = fma(a_{ik}, b_{kj}, p)  for k = 1, …, n − 1 in ascending order,
// one rounding per step (explicit fma: the variant units are compiled with -ffp-contract=off, so
// no compiler contraction choice can change it), and the subtract mode writes fma(−scale, p, c_in).
// The elementwise update of a layer without a product (Θ_{1:0} = I) writes fma(−scale, x, c_in).
// The squared Frobenius norm of m values x_0 … x_{m−1} is summed in eight (float64) or sixteen
// (float32) lanes: s_l = fma(x_i, x_i, s_l) over i ≡ l (mod lanes) in ascending i from s_l = 0,
// then folded pairwise, lanes l and l + h for h = lanes/2, lanes/4, …, 1. So every variant gives
// the same bits; only the BLAS (larger n) rounds differently. Padding a tile with zeros, splitting
// rows among threads or blocking k while storing and reloading p changes none of this.
//
// The variant units must share no symbol with the rest of the program: the linker keeps one copy
// of each inline or template function that several units define, and one compiled with AVX-512
// could then run on a CPU without it. So this header holds types only, the variant units include
// nothing else but <immintrin.h> and keep all their code in an anonymous namespace, and the build
// checks their objects for weak symbols (cmake/check_kernel_objects.cmake).
#pragma once

#include <cstddef>

namespace deeplinear::kernels {

using Size = std::ptrdiff_t;

// What a product kernel does with P = op(a)·op(b): c = P; c = P and c_t = Pᵀ; c = c_in − scale·P.
enum Mode : int { kStore = 0, kStoreTransposed = 1, kSubtract = 2 };

// Up to three n×n matrices to stream into the cache while a product runs (gemm.hpp, Upcoming):
// this thread requests the bytes [first, last) of their concatenation.
struct PrefetchShare {
    const void* matrices[3];
    Size first;
    Size last;
};

// One gd or penalty step of a fixed-size network (n ≤ kFixedMax) in two calls. forward: prefix_t
// ((depth − 1)·n² values) receives Θ_{1:i}ᵀ for i = 1 … depth − 1, residual (n²) E = Θ_{1:L} − Φ;
// returns ½‖E‖². backward: next (depth·n²) receives Θ_i − lr·G_i for every layer, where Θ_i is
// first replaced by decay·Θ_i + pull·I if penalty (written into next, then read back: the same
// roundings as the general stepper); work holds 2·n² values.
template <class T>
struct FixedStep {
    T (*forward)(const T* layers, Size depth, const T* phi, T* prefix_t, T* residual);
    void (*backward)(const T* layers, Size depth, const T* prefix_t, const T* residual, const T* params, bool penalty,
                     T* next, T* work);
};

// Gradient-descent and penalty steps of lane_width networks side by side, the network index across
// the lanes (lane_kernel.inc): element e of a matrix of the network in lane l at [e·width + l].
// forward: prefix ((depth − 1)·n² elements) receives Θ_{1:i}, residual (n²) E = Θ_{1:L} − Φ,
// losses (width) ½‖E‖² of each lane; backward: next (depth·n²) receives every layer's update,
// params holds η, decay and pull of each lane (3·width), work 2·n² elements. Lane by lane the
// arithmetic of FixedStep (the contract above).
template <class T>
struct LaneStep {
    void (*forward)(const T* layers, Size depth, Size n, const T* phi, T* prefix, T* residual, T* losses);
    void (*backward)(const T* layers, Size depth, Size n, const T* prefix, const T* residual, const T* params,
                     bool penalty, T* next, T* work);
    // The networks side by side: the vector width, or twice it where each element is a pair of
    // vectors (two groups' independent chains interleaved, for the smallest n).
    Size width;
};

template <class T>
struct Table {
    // Small kernel: its blocks of rows (a thread's share of a product starts at a multiple).
    Size small_rows;
    // Rows [first, last) of P = op(a)·b, a(r, k) = a[r·ar + k·ak], b row-major and not
    // transposed. kStore: c = P; kStoreTransposed: also aux = Pᵀ; kSubtract: c = aux − (*scale)·P,
    // aux being c itself or apart from it. Pointers are to the matrices' first elements;
    // prefetch may be null.
    void (*small)(int mode, const T* a, Size ar, Size ak, const T* b, T* c, T* aux, const T* scale, Size first,
                  Size last, Size n, const PrefetchShare* prefetch);

    // Packed kernel. Its tiles: packed_rows rows of op(a) by packed_cols columns of op(b).
    Size packed_rows;
    Size packed_cols;
    // Panels [first, last) of rows [k0, k0 + depth) of op(b) into bp: panel p (columns
    // [p·cols, p·cols + cols)) at bp + p·cols·depth, k-major, zero past column n.
    void (*pack_b)(const T* b, bool trans_b, Size n, T* bp, Size first, Size last, Size k0, Size depth);
    // Rows [first, last) (first a multiple of packed_rows) of P = op(a)·op(b) over the block of k
    // [k0, k0 + depth), from the panels of that block in bp. The chains start where k0 = 0 and
    // otherwise continue from the sums in `partial` (n×n, may be c in kStore mode); they go back
    // there unless k0 + depth = n, where c is written as `mode` says (kStore, or kSubtract with
    // c_in as aux above). ap: packed_rows·depth values of work; prefetch may be null.
    void (*packed)(int mode, const T* a, bool trans_a, const T* bp, const T* c_in, T* c, const T* scale, Size n,
                   Size first, Size last, Size k0, Size depth, T* partial, T* ap, const PrefetchShare* prefetch);

    // c[i] = fma(−scale, x[i], c_in[i]) for i < count (c_in may be c).
    void (*subtract_scaled)(const T* x, const T* scale, const T* c_in, T* c, Size count);
    // Σ x[i]² in the contract's order.
    T (*squared_norm)(const T* x, Size count);

    // Whole steps for n = 1 … 12 (index n).
    FixedStep<T> fixed[13];

    // Lane groups: the vector width (1: none), and steps for n ≤ 16 (index n; the sizes compiled
    // for their n are 1–8, 12 and 16; index 0 takes any n at run time), each with its own width.
    Size lane_width;
    // The n (bit n) at which a batch uses lane groups unless told otherwise (tuning.hpp), on a
    // CPU that runs 512-bit operations whole and on one that runs them in two halves (VectorCore).
    unsigned lane_dims;
    unsigned lane_dims_halves;
    LaneStep<T> lanes[17];
};

extern const Table<double> kGenericDouble;
extern const Table<float> kGenericFloat;
#ifdef DEEPLINEAR_KERNELS_AVX2
extern const Table<double> kAvx2Double;
extern const Table<float> kAvx2Float;
#endif
#ifdef DEEPLINEAR_KERNELS_AVX512
extern const Table<double> kAvx512Double;
extern const Table<float> kAvx512Float;
#endif

}  // namespace deeplinear::kernels
