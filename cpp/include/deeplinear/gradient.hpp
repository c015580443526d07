// The loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² and its gradient (Lemma 1) by one forward and one
// backward sweep: G_i = Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ for all i in about 3L products.
#pragma once

#include "common.hpp"
#include "gemm.hpp"

#include <algorithm>
#include <vector>

namespace deeplinear {

// One layer's gradient as GradientSweep::backward() hands it to its visitor: the product
// G = op(left)·op(right), op(x) = xᵀ where x_transposed, or `left` itself where right is null
// (the only layer of a one-layer network, whose gradient is the residual). The factors live in
// the layers or the sweep and stay valid until the visitor returns.
template <class T>
struct GradientFactors {
    const T* left = nullptr;
    bool left_transposed = false;
    const T* right = nullptr;
    bool right_transposed = false;
};

// The workspace is L − 1 matrices of d × d (one for L = 1; L with the small kernel) besides the
// products' own (the packed kernel's panels): the prefix products Θ_{1:i} for 2 ≤ i < L, the
// residual and, for the small kernel, one matrix more. The back-propagated B_i take the places of the
// prefix products that the backward sweep has used; Θ_{1:1} is the first layer itself, and the
// first layer's gradient Θ_2ᵀ·B_2 is formed by the kernel that writes its update, never stored.
template <class T>
class GradientSweep {
public:
    using Mat = Matrix<T>;

    // The products run as `context` says (see execution.hpp). `lend`: the elements of the block
    // that spent_block() lends once backward() has returned (the prefix products' memory, made
    // at least that large).
    GradientSweep(Index depth, Index dim, const ExecutionContext& context, Index lend = 0)
        : products_(context, dim, depth == 1 && lend == 0), stride_(dim * dim + kPad),
          prefix_(static_cast<std::size_t>(std::max(depth > 2 ? (depth - 2) * stride_ : 0, lend)), T(0)),
          residual_(dim, dim) {
        transposed_ = products_.prefers_transposed();
        // The small kernel's second buffer: the untransposed prefix (the forward sweep's products
        // read it by rows) by turns with residual_, then Θ_1ᵀ for the second layer's gradient.
        if (transposed_ && depth > 1) spare_ = Mat::Zero(dim, dim);
        // Touched once here: otherwise the first products pay the page faults of these buffers,
        // which the timed thread split would take for the cost of the way it ran them.
        residual_.setZero();
    }

    // Forward sweep: prefix Θ_{1:i} for 1 < i < L and the residual E = Θ_{1:L} − Φ.
    // Returns ℓ = ½‖E‖_F². Must precede backward(). `output` (optional, a hint for the cache:
    // see Upcoming) is the stack that the next backward()'s visitor will write.
    template <class Phi>
    T forward(LayerStack<const T> layers, const Phi& phi, const T* output = nullptr) {
        const Index depth = layers.depth, size = layers.dim * layers.dim;
        if (depth == 1) {
            residual_ = layers.layer(0) - phi;
            return T(0.5) * products_.squared_norm(residual_.data());
        }
        // Θ_{1:i} for the next product: the first layer, then (untransposed) the last product.
        const T* current = layers.data;
        for (Index i = 1; i + 1 < depth; ++i) {
            // Each product names the next one's factor and result for the cache.
            Upcoming upcoming;
            upcoming.matrices[0] = layers.data + (i + 1) * size;
            upcoming.matrices[1] = i + 2 < depth ? prefix(i + 2) : residual_.data();
            if (transposed_) {
                // Kept transposed for the gradients' products (see prefers_transposed); the
                // untransposed product in spare_ and residual_ by turns, so that the last one
                // (i = depth − 2) lands in spare_, which the residual's product reads.
                T* next = (depth - 2 - i) % 2 == 0 ? spare_.data() : residual_.data();
                products_.multiply_and_transpose(layers.data + i * size, false, current, next, prefix(i + 1), upcoming);
                current = next;
            } else {
                products_.multiply(layers.data + i * size, false, current, false, prefix(i + 1), nullptr, upcoming);
                current = prefix(i + 1);
            }
        }
        // The last product names the first layer that backward() writes.
        Upcoming upcoming;
        if (output) upcoming.matrices[0] = output + (depth - 1) * size;
        products_.multiply(layers.data + (depth - 1) * size, false, current, false, residual_.data(), nullptr,
                           upcoming);
        residual_ -= phi;
        return overflowed_loss(T(0.5) * products_.squared_norm(residual_.data()), layers.data, layers.size());
    }

    // Backward sweep from B_L = E with B_{i−1} = Θ_iᵀ B_i (backpropagation). For each layer,
    // from the last to the first, calls visit(i, factors) with 0-based i and the GradientFactors
    // of that layer's gradient: B_{i+1}·Θ_{1:i}ᵀ, with B_{i+1} = Θ_{i+2:L}ᵀ E, and for the first
    // layer Θ_2ᵀ·B_2. visit may overwrite layer i of a different stack: `output` (optional) names
    // that stack, a hint for the cache (see Upcoming). The residual stays as forward() left it
    // (unless the visitor writes spent_matrix()); the prefix products do not (the B_i take their
    // places): one backward() per forward().
    template <class Visit>
    void backward(LayerStack<const T> layers, Visit&& visit, const T* output = nullptr) {
        const Index depth = layers.depth, size = layers.dim * layers.dim;
        if (depth == 1) {
            GradientFactors<T> factors;
            factors.left = residual_.data();
            visit(Index(0), static_cast<const GradientFactors<T>&>(factors));
            return;
        }
        const T* back = residual_.data();  // B_{i+1}
        for (Index i = depth - 1; i >= 1; --i) {
            // While layer i's gradient is formed (by subtract_gradient), layer i − 1's factor
            // and prefix are loaded; while B_i is, the layer that its update will overwrite.
            upcoming_ = Upcoming();
            upcoming_.matrices[0] = layers.data + (i - 1) * size;
            upcoming_.matrices[1] = i > 2 ? prefix(i - 1) : i == 2 ? layers.data : layers.data + size;
            GradientFactors<T> factors;
            factors.left = back;
            factors.right = i == 1 ? layers.data : prefix(i);
            // Θ_{1:1} is the first layer, stored untransposed; the others as the kernel prefers.
            factors.right_transposed = i == 1 || !transposed_;
            visit(i, static_cast<const GradientFactors<T>&>(factors));
            if (i > 1) {  // B_i, in the place of the prefix that layer i's gradient has used
                Upcoming next;
                if (output) next.matrices[0] = output + (i - 1) * size;
                T* b = prefix(i);
                products_.multiply(layers.data + i * size, true, back, false, b, nullptr, next);
                back = b;
            }
        }
        upcoming_ = Upcoming();
        GradientFactors<T> first;  // G_1 = B_1 = Θ_2ᵀ·B_2
        first.left = layers.data + size;
        first.left_transposed = true;
        first.right = back;
        visit(Index(0), static_cast<const GradientFactors<T>&>(first));
    }

    // E = Θ_{1:L} − Φ from the last forward().
    const Mat& residual() const { return residual_; }

    // While backward() visits the first layer (i = 0) of a network of `depth` layers: a d × d
    // matrix that the sweep no longer needs, which the visitor may overwrite (the spent B_3 for
    // depth ≥ 4; for depth 3 the residual, which then no longer holds E), or null (depth ≤ 2).
    T* spent_matrix(Index depth) { return depth >= 4 ? prefix(3) : depth == 3 ? residual_.data() : nullptr; }

    // Once backward() has returned and until the next forward(): memory that the sweep has done
    // with, for the caller's use: a d × d matrix (the residual's) and a block of at least the
    // constructor's `lend` elements (the prefix products').
    T* spent_residual() { return residual_.data(); }
    T* spent_block() { return prefix_.data(); }
    // The sweep's products (their buffers made already), for other products of the same call.
    Products<T>& products() { return products_; }

    // out (d × d, neither factor) = the gradient that backward() passes to its visitor.
    void gradient(const GradientFactors<T>& g, T* out) {
        if (!g.right) {
            std::copy(g.left, g.left + residual_.size(), out);
        } else {
            products_.multiply(g.left, g.left_transposed, g.right, g.right_transposed, out, scratch());
        }
    }

    // out = from − scale·G for the gradient G that backward() passes to its visitor, the gradient
    // complete before it is scaled and each element rounded once (fma), as in every kernel; from
    // is out or a matrix apart from it.
    void subtract_gradient(const GradientFactors<T>& g, T scale, const T* from, T* out) {
        if (!g.right) {
            products_.subtract_matrix(g.left, scale, from, out);
        } else {
            products_.subtract(g.left, g.left_transposed, g.right, g.right_transposed, scale, from, out, scratch(),
                               upcoming_);
        }
    }

private:
    // Where Θ_{1:i} is kept, 1 < i < L (Θ_{1:1} is the first layer).
    T* prefix(Index i) { return prefix_.data() + (i - 2) * stride_; }
    // The small kernel copies a transposed right factor here: spare_, unused once forward() ends.
    T* scratch() { return transposed_ ? spare_.data() : nullptr; }

    Products<T> products_;
    // The prefix products in one allocation (one allocator header, not one per matrix), a cache
    // line apart: no two of them a power of two apart (the same cache sets) when d² is one.
    // Against a matrix each, gd_steps measured the same rates at d = 64–512.
    static constexpr Index kPad = 64 / static_cast<Index>(sizeof(T));
    Index stride_;
    // Θ_{1:i} (transposed where transposed_) for 2 ≤ i < L, then B_i.
    std::vector<T, Eigen::aligned_allocator<T>> prefix_;
    Mat residual_;
    Mat spare_;                // the small kernel's second buffer (see the constructor)
    bool transposed_ = false;  // whether prefix_ holds Θ_{1:i}ᵀ
    Upcoming upcoming_;        // during backward()'s visit: what subtract_gradient() names next
};

// G_i for all layers into `out` (same shape as layers, apart from them); returns ℓ.
template <class T, class Phi>
T loss_and_gradient(LayerStack<const T> layers, const Phi& phi, LayerStack<T> out, const ExecutionContext& context) {
    GradientSweep<T> sweep(layers.depth, layers.dim, context);
    const T loss = sweep.forward(layers, phi);
    sweep.backward(layers,
                   [&](Index i, const GradientFactors<T>& factors) { sweep.gradient(factors, out.layer(i).data()); });
    return loss;
}

}  // namespace deeplinear
