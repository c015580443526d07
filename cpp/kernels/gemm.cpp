// The square products of one call (gemm.hpp): the small and packed kernels of the call's
// instruction set (kernel_abi.hpp), their rows shared among the call's threads, or the BLAS.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deeplinear/gemm.hpp>
#include <deeplinear/threads.hpp>

#include "blas.hpp"
#include "kernel_abi.hpp"
#include "tables.hpp"
#include "tuning.hpp"

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

namespace {

// The prefetch share of thread `id` of `count`: an equal part of the bytes of the non-null
// Upcoming matrices.
kernels::PrefetchShare prefetch_share(const Upcoming& upcoming, Index bytes_each, int id, int count) {
    kernels::PrefetchShare share{{nullptr, nullptr, nullptr}, 0, 0};
    Index regions = 0;
    for (const void* m : upcoming.matrices) {
        if (m) share.matrices[regions++] = m;
    }
    const Index total = regions * bytes_each;
    share.first = total * id / count;
    share.last = total * (id + 1) / count;
    return share;
}

}  // namespace

template <class T>
Products<T>::Products(const ExecutionContext& context, Index n, bool elementwise_only)
    : n_(n), backend_(choose_backend(context, n, dtype_of<T>)), isa_(context.isa), threads_(context.threads),
      split_rows_(splits_rows(context, n, backend_)), split_policy_(context.split),
      table_(&kernels::table<T>(context.isa)) {
    if (backend_ == Backend::packed) {  // the panels of op(b), then each thread's rows of op(a)
        const Index cols = table_->packed_cols, panels = (n + cols - 1) / cols;
        const Index line = 64 / static_cast<Index>(sizeof(T));
        depth_ = std::min<Index>(n, tuning::kPackedDepth);
        if (split_rows_) {  // private panels, if blocks deep enough fit every thread's in n² elements
            const Index per_row = threads_ * (panels * cols + table_->packed_rows) + line;
            const Index fits = std::min<Index>(depth_, n * n / per_row);
            if (fits >= tuning::kPrivateDepthMin) {
                const Index blocks = (n + fits - 1) / fits;
                depth_ = (n + blocks - 1) / blocks;  // blocks of equal depths
                private_panels_ = true;
            }
        }
        if (private_panels_) {  // each thread its own panels and rows, a cache line apart
            region_ = ((panels * cols + table_->packed_rows) * depth_ + line - 1) / line * line;
            panel_elements_ = threads_ * region_ + line;
        } else {
            panel_elements_ = (panels * cols + threads_ * table_->packed_rows) * depth_ + line;
        }
        // Made (and touched) here, so that the first products do not pay their page faults.
        if (!elementwise_only) panels_.resize(static_cast<std::size_t>(panel_elements_));
    }
}

template <class T>
template <class Run>
void Products<T>::split_or_not(Run&& run) {
    if (!split_rows_) {
        run(false);
        return;
    }
    const bool timed = split_policy_ == SplitPolicy::timed;
    const bool split = timed ? split_choice_.next(n_) : split_policy_ == SplitPolicy::always;
    const auto start = std::chrono::steady_clock::now();
    run(split);
    if (timed) split_choice_.done(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

template <class T>
template <class Run>
void Products<T>::share_rows(Run&& run) {
#ifdef DEEPLINEAR_OPENMP
    if (split_rows_ && !omp_in_parallel() && !forked_after_threads()) {  // (a context made before a fork)
        split_or_not([&](bool split) {
            if (split) {
                const CallerFloatEnvironment caller;
#pragma omp parallel num_threads(threads_)
                {
                    const CallerFloatEnvironment::Adopted adopted(caller);
                    run(omp_get_thread_num(), omp_get_num_threads());
                }
            } else {
                run(0, 1);
            }
        });
        return;
    }
#endif
    run(0, 1);
}

template <class T>
void Products<T>::small(int mode, const T* a, bool trans_a, const T* b, T* c, T* aux, const T* scale,
                        const Upcoming& upcoming) {
    const Index n = n_, ar = trans_a ? 1 : n, ak = trans_a ? n : 1, rows = table_->small_rows;
    share_rows([&](int id, int count) {
        // Whole blocks of rows per thread: every row is computed alike whichever thread takes it.
        const Index blocks = n / rows;
        const Index first = rows * (blocks * id / count),
                    last = id + 1 == count ? n : rows * (blocks * (id + 1) / count);
        const kernels::PrefetchShare share = prefetch_share(upcoming, n * n * static_cast<Index>(sizeof(T)), id, count);
        const kernels::PrefetchShare* prefetch = n >= tuning::kPrefetchMin ? &share : nullptr;
        if (last > first) table_->small(mode, a, ar, ak, b, c, aux, scale, first, last, n, prefetch);
    });
}

template <class T>
void Products<T>::packed(int mode, const T* a, bool trans_a, const T* b, bool trans_b, const T* c_in, T* c,
                         const T* scale, const Upcoming& upcoming) {
    const Index n = n_, rows = table_->packed_rows, cols = table_->packed_cols;
    const Index panels = (n + cols - 1) / cols, blocks = (n + rows - 1) / rows;
    const Index depth = depth_, steps = (n + depth - 1) / depth;
    // The panels at a cache-line boundary (a misaligned panel splits every other load), then each
    // thread's rows of op(a).
    if (panels_.empty()) panels_.resize(static_cast<std::size_t>(panel_elements_));  // (elementwise_only)
    T* bp = panels_.data() + (-reinterpret_cast<std::uintptr_t>(panels_.data()) / sizeof(T)) % (64 / sizeof(T));
    // The sums between blocks of k: in c, unless c is c_in (an update in place, which reads c_in
    // as it writes c), then in a matrix of their own, made at the first such product.
    T* partial = c;
    if (mode == kernels::kSubtract && steps > 1 && c_in == c) {
        if (partials_.empty()) partials_.resize(static_cast<std::size_t>(n * n));
        partial = partials_.data();
    }
    share_rows([&](int id, int count) {
        const Index first = rows * (blocks * id / count), last = std::min(n, rows * (blocks * (id + 1) / count));
        const kernels::PrefetchShare share = prefetch_share(upcoming, n * n * static_cast<Index>(sizeof(T)), id, count);
        // Shared panels: each thread packs its share of them, and the threads meet before and
        // after every block's products. Private panels: each thread packs all of them for itself
        // (a block's packing is 1/rows of its products' work) and never waits for the other.
        const bool own = private_panels_ && count > 1;
        T* panels_here = own ? bp + id * region_ : bp;
        T* ap = own ? panels_here + panels * cols * depth : bp + panels * cols * depth + id * rows * depth;
        for (Index step = 0; step < steps; ++step) {
            const Index k0 = step * depth, here = std::min(depth, n - k0);
            table_->pack_b(b, trans_b, n, panels_here, own ? 0 : panels * id / count,
                           own ? panels : panels * (id + 1) / count, k0, here);
#ifdef DEEPLINEAR_OPENMP
            if (count > 1 && !own) {
#pragma omp barrier
            }
#endif
            kernels::PrefetchShare part = share;  // this block's part of the lines
            part.first = share.first + (share.last - share.first) * step / steps;
            part.last = share.first + (share.last - share.first) * (step + 1) / steps;
            if (last > first) {
                table_->packed(mode, a, trans_a, panels_here, c_in, c, scale, n, first, last, k0, here, partial, ap,
                               &part);
            }
#ifdef DEEPLINEAR_OPENMP
            if (count > 1 && !own && step + 1 < steps) {  // the panels are packed again
#pragma omp barrier
            }
#endif
        }
    });
}

template <class T>
void Products<T>::transpose_into(const T* b, T* out) const {
    MatrixMap<T>(out, n_, n_).noalias() = ConstMatrixMap<T>(b, n_, n_).transpose();
}

template <class T>
void Products<T>::multiply(const T* a, bool trans_a, const T* b, bool trans_b, T* c, T* scratch,
                           const Upcoming& upcoming) {
    switch (backend_) {
        case Backend::fixed:
        case Backend::small:
            if (trans_b) {  // the kernel streams rows of b: a transposed b is copied once (n² against n³)
                transpose_into(b, scratch);
                b = scratch;
            }
            small(kernels::kStore, a, trans_a, b, c, nullptr, nullptr, upcoming);
            return;
        case Backend::packed: packed(kernels::kStore, a, trans_a, b, trans_b, nullptr, c, nullptr, upcoming); return;
        case Backend::blas: blas::gemm(a, trans_a, b, trans_b, c, static_cast<int>(n_), T(1), T(0), threads_); return;
    }
}

template <class T>
void Products<T>::subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, T* scratch,
                           const Upcoming& upcoming) {
    const Index n = n_;
    if (scale == T(0)) {
        if (c_in != c) std::copy(c_in, c_in + n * n, c);
        return;
    }
    switch (backend_) {
        case Backend::fixed:
        case Backend::small:
            if (trans_b) {
                transpose_into(b, scratch);
                b = scratch;
            }
            // (the kernel only reads through aux in subtract mode)
            small(kernels::kSubtract, a, trans_a, b, c, const_cast<T*>(c_in), &scale, upcoming);
            return;
        case Backend::packed: packed(kernels::kSubtract, a, trans_a, b, trans_b, c_in, c, &scale, upcoming); return;
        case Backend::blas:
            if (c_in != c) std::copy(c_in, c_in + n * n, c);  // then in place
            // BLAS kernels scale their accumulated products by alpha, then add
            blas::gemm(a, trans_a, b, trans_b, c, static_cast<int>(n), -scale, T(1), threads_);
            return;
    }
}

template <class T>
void Products<T>::multiply_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, const Upcoming& upcoming) {
    if (backend_ == Backend::small || backend_ == Backend::fixed) {
        small(kernels::kStoreTransposed, a, trans_a, b, c, c_t, nullptr, upcoming);
        return;
    }
    multiply(a, trans_a, b, false, c, nullptr, upcoming);
    transpose_into(c, c_t);
}

template <class T>
void Products<T>::subtract_matrix(const T* x, T scale, const T* c_in, T* c) const {
    table_->subtract_scaled(x, &scale, c_in, c, n_ * n_);
}

template <class T>
void Products<T>::subtract_row(const T* x, T scale, const T* c_in, T* c) const {
    table_->subtract_scaled(x, &scale, c_in, c, n_);
}

template <class T>
T Products<T>::squared_norm(const T* x) const {
    return table_->squared_norm(x, n_ * n_);
}

template class Products<double>;
template class Products<float>;

}  // namespace deeplinear
