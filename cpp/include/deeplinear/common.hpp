// Shared types: numpy memory seen as Eigen row-major matrices, without copies.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace deeplinear {

using Index = Eigen::Index;

// numpy arrays are row-major; every matrix the core touches is row-major too, so a layer of
// an (L, d, d) stack maps in place and results are written straight into numpy buffers.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Column-major work matrices for the decompositions (Eigen's and LAPACK's native order).
template <class T>
using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using ColVector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;

// A view of L square d×d layers stored one after another (an (L, d, d) C-contiguous array):
// layer(i) is Θ_{i+1} in the paper's 1-based numbering. S is T or const T.
template <class S>
struct LayerStack {
    using Scalar = std::remove_const_t<S>;
    using Map = Eigen::Map<std::conditional_t<std::is_const_v<S>, const Matrix<Scalar>, Matrix<Scalar>>>;

    S* data = nullptr;
    Index depth = 0;
    Index dim = 0;

    Map layer(Index i) const { return Map(data + i * dim * dim, dim, dim); }
    Index size() const { return depth * dim * dim; }
    LayerStack<const Scalar> as_const() const { return {data, depth, dim}; }
};

// Storage for a layer stack owned by the core (work buffers allocated once per call).
template <class T>
struct OwnedStack {
    std::vector<T, Eigen::aligned_allocator<T>> storage;  // cache-line aligned (EIGEN_MAX_ALIGN_BYTES)
    Index depth = 0;
    Index dim = 0;

    OwnedStack() = default;
    OwnedStack(Index depth_, Index dim_)
        : storage(static_cast<std::size_t>(depth_ * dim_ * dim_)), depth(depth_), dim(dim_) {}
    LayerStack<T> view() { return {storage.data(), depth, dim}; }
};

// ℓ of finite layers is a number ≥ 0, and comes out NaN only where their product overflows
// (∞ − ∞ or 0·∞ in its sums): that ℓ is +∞. Layers that are not finite keep their NaN.
template <class T, class Size>
T overflowed_loss(T loss, const T* layers, Size count) {
    if (!std::isnan(loss)) return loss;
    for (Size k = 0; k < count; ++k) {
        if (!std::isfinite(layers[k])) return loss;
    }
    return std::numeric_limits<T>::infinity();
}

}  // namespace deeplinear
