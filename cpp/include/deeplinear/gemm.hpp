// The square products of one call: C = op(A)·op(B) on n×n row-major matrices stored
// contiguously, on the back end and instruction set that the call's ExecutionContext chooses
// once (choose_backend). Defined in cpp/kernels/gemm.cpp; the kernels themselves, their
// arithmetic contract and their thresholds are in cpp/kernels/.
#pragma once

#include <vector>

#include "common.hpp"
#include "execution.hpp"
#include "thread_split.hpp"

namespace deeplinear {

namespace kernels {
template <class T>
struct Table;
}

// Up to three n×n matrices that the products after this one will read or write. A kernel may
// stream them into the cache while it computes, so that the next product does not wait for
// them; only a hint (no result depends on it), ignored by the BLAS.
struct Upcoming {
    const void* matrices[3] = {nullptr, nullptr, nullptr};
};

template <class T>
class Products {
public:
    // elementwise_only: the caller will make no products (only the elementwise operations), so
    // the packed kernel's panels are not made (a product would make them then).
    Products(const ExecutionContext& context, Index n, bool elementwise_only = false);

    Index size() const { return n_; }
    Backend backend() const { return backend_; }
    Isa isa() const { return isa_; }
    int threads() const { return threads_; }

    // c = op(a)·op(b), with op(x) = xᵀ where trans_x. `scratch` holds n·n elements when trans_b
    // (the small kernel transposes b into it) and may be null otherwise; c must not alias a, b or
    // scratch.
    void multiply(const T* a, bool trans_a, const T* b, bool trans_b, T* c, T* scratch, const Upcoming& upcoming = {});

    // c = c_in − scale·(op(a)·op(b)): the product (or, in the BLAS, each block of its inner sum)
    // is formed before it is scaled, never from a pre-scaled factor, so that every layer's update
    // rounds alike; scratch as for multiply(). c_in is c (in place) or a matrix that overlaps
    // neither c nor scratch (read as c is written: no copy); c must not alias a, b or scratch.
    // In place, the packed kernel keeps its sums between blocks of k in a matrix of its own (n·n,
    // made at the first such call); otherwise in c.
    void subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, T* scratch,
                  const Upcoming& upcoming = {});

    // c = op(a)·b and c_t = cᵀ (c, c_t distinct from each other and from a, b).
    void multiply_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, const Upcoming& upcoming = {});

    // c = c_in − scale·x elementwise (n×n), one rounding per element (fma): the update of a layer
    // whose gradient needs no product (the first layer's, Θ_{1:0} = I).
    void subtract_matrix(const T* x, T scale, const T* c_in, T* c) const;
    // The same on one row of n elements (c may be x).
    void subtract_row(const T* x, T scale, const T* c_in, T* c) const;

    // ‖x‖_F² of an n×n matrix, summed in the fixed order of the kernels' contract (the same
    // bits on every instruction set).
    T squared_norm(const T* x) const;

    // Whether products are faster with a transposed right factor stored as such
    // (multiply(x, false, yᵀ stored, false)) than with multiply(x, false, y, true): true for the
    // small kernel, which streams rows of its right factor; the others take either layout.
    bool prefers_transposed() const { return backend_ == Backend::small; }

private:
    // run(split): whether this product runs on the call's threads (where split_rows_, as the
    // policy says; the timed policy times it) or on one.
    template <class Run>
    void split_or_not(Run&& run);
    // Runs run(id, count) on each of `count` threads (the rows shared, see split_or_not) or on one.
    template <class Run>
    void share_rows(Run&& run);
    void small(int mode, const T* a, bool trans_a, const T* b, T* c, T* aux, const T* scale, const Upcoming& upcoming);
    void packed(int mode, const T* a, bool trans_a, const T* b, bool trans_b, const T* c_in, T* c, const T* scale,
                const Upcoming& upcoming);
    void transpose_into(const T* b, T* out) const;

    Index n_;
    Backend backend_;
    Isa isa_;
    int threads_;
    bool split_rows_;
    SplitPolicy split_policy_;
    SplitChoice split_choice_;
    const kernels::Table<T>* table_;
    std::vector<T> panels_;                                 // the packed kernel's panels of op(b) and rows of op(a)
    Index depth_ = 0;                                       // its blocks of k (tuning::kPackedDepth)
    bool private_panels_ = false;                           // each thread packs its own (tuning::kPrivateDepthMin)
    Index region_ = 0;                                      // elements of one thread's panels and rows
    Index panel_elements_ = 0;                              // of panels_
    std::vector<T, Eigen::aligned_allocator<T>> partials_;  // its sums between blocks of k (subtract mode)
};

extern template class Products<double>;
extern template class Products<float>;

}  // namespace deeplinear
