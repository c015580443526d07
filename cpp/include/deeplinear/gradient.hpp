// The loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² and its gradient (Lemma 1) by one forward and one
// backward sweep: G_i = Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ for all i in about 3L products.
#pragma once

#include "common.hpp"
#include "gemm.hpp"

#include <vector>

namespace deeplinear {

template <class T>
class GradientSweep {
public:
    using Mat = Matrix<T>;

    // The products run as `context` says (see execution.hpp).
    GradientSweep(Index depth, Index dim, const ExecutionContext& context)
        : products_(context, dim), prefix_(static_cast<std::size_t>(depth > 1 ? depth - 1 : 0), Mat(dim, dim)),
          residual_(dim, dim), back_(dim, dim), back_next_(dim, dim), scratch_(dim, dim) {
        transposed_ = products_.prefers_transposed();
        if (transposed_ && depth > 2) rolling_ = Mat::Zero(dim, dim);
        // Touched once here: otherwise the first products pay the page faults of these buffers,
        // which the timed thread split would take for the cost of the way it ran them. (scratch_
        // serves only the small kernel's transposes, and is left as it is.)
        for (Mat* m : {&residual_, &back_, &back_next_}) m->setZero();
        for (Mat& m : prefix_) m.setZero();
    }

    // Forward sweep: prefix Θ_{1:i} for i < L and the residual E = Θ_{1:L} − Φ.
    // Returns ℓ = ½‖E‖_F². Must precede backward(). `output` (optional, a hint for the cache:
    // see Upcoming) is the stack that the next backward()'s visitor will write.
    template <class Phi>
    T forward(LayerStack<const T> layers, const Phi& phi, const T* output = nullptr) {
        const Index depth = layers.depth;
        if (depth == 1) {
            residual_ = layers.layer(0) - phi;
        } else if (transposed_) {
            // Kept transposed for the gradients' products (see prefers_transposed); the
            // untransposed prefix for the next product lives in layer 0, then in rolling_ and
            // back_next_ by turns (both free until backward()).
            const Index dim = layers.dim, size = dim * dim;
            prefix_[0] = layers.layer(0).transpose();
            const T* current = layers.data;
            for (Index i = 1; i + 1 < depth; ++i) {
                T* next = (i % 2 == 1 ? rolling_ : back_next_).data();
                Upcoming upcoming;  // the next product's factor and transposed result
                upcoming.matrices[0] = layers.data + (i + 1) * size;
                upcoming.matrices[1] = i + 2 < depth ? prefix_[i + 1].data() : residual_.data();
                products_.multiply_and_transpose(layers.data + i * size, false, current, next, prefix_[i].data(),
                                                 upcoming);
                current = next;
            }
            Upcoming upcoming;
            if (output) upcoming.matrices[0] = output + (depth - 1) * size;
            products_.multiply(layers.data + (depth - 1) * size, false, current, false, residual_.data(), nullptr,
                               upcoming);
            residual_ -= phi;
        } else {
            // Each product names the next one's factor and result for the cache; the last names
            // the first layer that backward() writes.
            prefix_[0] = layers.layer(0);
            const Index size = layers.dim * layers.dim;
            for (Index i = 1; i + 1 < depth; ++i) {
                Upcoming upcoming;
                upcoming.matrices[0] = layers.data + (i + 1) * size;
                upcoming.matrices[1] = i + 2 < depth ? prefix_[i + 1].data() : residual_.data();
                multiply(layers, i, false, prefix_[i - 1], prefix_[i], upcoming);
            }
            Upcoming upcoming;
            if (output) upcoming.matrices[0] = output + (depth - 1) * size;
            multiply(layers, depth - 1, false, prefix_[depth - 2], residual_, upcoming);
            residual_ -= phi;
        }
        return T(0.5) * products_.squared_norm(residual_.data());
    }

    // Backward sweep from B_L = E with B_{i−1} = Θ_iᵀ B_i (backpropagation). For each layer,
    // from the last to the first, calls visit(i, B, prefix) with 0-based i, B = B_{i+1} =
    // Θ_{i+2:L}ᵀ E and prefix = &Θ_{1:i} (nullptr for the first layer, where it is I), stored
    // as gradient() expects it (possibly transposed); the gradient of that layer is
    // gradient(B, *prefix) = B · Θ_{1:i}ᵀ. visit may overwrite layer i of a different stack:
    // `output` (optional) names that stack, a hint for the cache (see Upcoming).
    template <class Visit>
    void backward(LayerStack<const T> layers, Visit&& visit, const T* output = nullptr) {
        const Index size = layers.dim * layers.dim;
        back_ = residual_;
        for (Index i = layers.depth - 1; i >= 0; --i) {
            // While layer i's gradient is formed (by subtract_gradient), layer i − 1's factor
            // and prefix are loaded; while B_i is, the layer that its update will overwrite.
            upcoming_ = Upcoming();
            if (i > 0) upcoming_.matrices[0] = layers.data + (i - 1) * size;
            if (i > 1) upcoming_.matrices[1] = prefix_[i - 2].data();
            visit(i, static_cast<const Mat&>(back_), i > 0 ? &prefix_[i - 1] : nullptr);
            if (i > 0) {
                Upcoming next;
                if (output) next.matrices[0] = output + (i - 1) * size;
                multiply(layers, i, true, back_, back_next_, next);
                back_.swap(back_next_);
            }
        }
        upcoming_ = Upcoming();
    }

    const Mat& residual() const { return residual_; }

    // out = back · prefixᵀ for the (B, prefix) that backward() passes to its visitor (a
    // layer's gradient); out must be neither argument.
    void gradient(const Mat& back, const Mat& prefix, Mat& out) {
        products_.multiply(back.data(), false, prefix.data(), !transposed_, out.data(), scratch_.data());
    }

    // out = from − scale · (back · prefixᵀ) for the (B, prefix) that backward() passes to its
    // visitor (prefix null: the first layer, whose gradient is B), the gradient complete before it
    // is scaled and each element rounded once (fma), as in every kernel; from is out or a matrix
    // apart from it.
    void subtract_gradient(const Mat& back, const Mat* prefix, T scale, const T* from, T* out) {
        if (!prefix) {
            products_.subtract_matrix(back.data(), scale, from, out);
        } else {
            products_.subtract(back.data(), false, prefix->data(), !transposed_, scale, from, out, scratch_.data(),
                               upcoming_);
        }
    }

private:
    // out = op(Θ_{i+1})·x, op = transpose where `transpose`.
    void multiply(LayerStack<const T> layers, Index i, bool transpose, const Mat& x, Mat& out,
                  const Upcoming& upcoming = {}) {
        products_.multiply(layers.data + i * layers.dim * layers.dim, transpose, x.data(), false, out.data(),
                           scratch_.data(), upcoming);
    }

    Products<T> products_;
    std::vector<Mat> prefix_;
    Mat residual_, back_, back_next_, scratch_;
    Mat rolling_;              // the transposed layout's second buffer for Θ_{1:i}
    bool transposed_ = false;  // whether prefix_ holds Θ_{1:i}ᵀ
    Upcoming upcoming_;        // during backward()'s visit: what subtract_gradient() names next
};

// G_i for all layers into `out` (same shape as layers); returns ℓ.
template <class T, class Phi>
T loss_and_gradient(LayerStack<const T> layers, const Phi& phi, LayerStack<T> out, const ExecutionContext& context) {
    GradientSweep<T> sweep(layers.depth, layers.dim, context);
    const T loss = sweep.forward(layers, phi);
    Matrix<T> gradient(layers.dim, layers.dim);
    sweep.backward(layers, [&](Index i, const Matrix<T>& back, const Matrix<T>* prefix) {
        if (prefix) {
            sweep.gradient(back, *prefix, gradient);
            out.layer(i) = gradient;
        } else {
            out.layer(i) = back;
        }
    });
    return loss;
}

}  // namespace deeplinear
