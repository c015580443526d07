// The loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² and its gradient (Lemma 1) by one forward and one
// backward sweep: G_i = Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ for all i in about 3L products.
#pragma once

#include "common.hpp"

namespace deeplinear {

template <class T, int N = Eigen::Dynamic>
class GradientSweep {
public:
    using Mat = Matrix<T, N>;

    GradientSweep(Index depth, Index dim)
        : prefix_(static_cast<std::size_t>(depth > 1 ? depth - 1 : 0), Mat(dim, dim)),
          residual_(dim, dim), back_(dim, dim), back_next_(dim, dim) {}

    // Forward sweep: prefix Θ_{1:i} for i < L and the residual E = Θ_{1:L} − Φ.
    // Returns ℓ = ½‖E‖_F². Must precede backward().
    template <class Phi>
    T forward(LayerStack<const T> layers, const Phi& phi) {
        const Index depth = layers.depth;
        if (depth == 1) {
            residual_ = layers.template layer<N>(0) - phi;
        } else {
            prefix_[0] = layers.template layer<N>(0);
            for (Index i = 1; i + 1 < depth; ++i) {
                prefix_[i].noalias() = product_of<N>(layers.template layer<N>(i), prefix_[i - 1]);
            }
            residual_.noalias() = product_of<N>(layers.template layer<N>(depth - 1), prefix_[depth - 2]);
            residual_ -= phi;
        }
        return T(0.5) * residual_.squaredNorm();
    }

    // Backward sweep from B_L = E with B_{i−1} = Θ_iᵀ B_i (backpropagation). For each layer,
    // from the last to the first, calls visit(i, B, prefix) with 0-based i, B = B_{i+1} =
    // Θ_{i+2:L}ᵀ E and prefix = &Θ_{1:i} (nullptr for the first layer, where it is I); the
    // gradient of that layer is B · prefixᵀ. visit may overwrite layer i of a different stack.
    template <class Visit>
    void backward(LayerStack<const T> layers, Visit&& visit) {
        back_ = residual_;
        for (Index i = layers.depth - 1; i >= 0; --i) {
            visit(i, static_cast<const Mat&>(back_), i > 0 ? &prefix_[i - 1] : nullptr);
            if (i > 0) {
                back_next_.noalias() = product_of<N>(layers.template layer<N>(i).transpose(), back_);
                back_.swap(back_next_);
            }
        }
    }

    const Mat& residual() const { return residual_; }
    // Θ_{1:i} for 1 <= i < L, valid after forward().
    const Mat& prefix(Index i) const { return prefix_[i - 1]; }

private:
    // Fixed-size matrices inside a std::vector need Eigen's aligned allocator.
    std::vector<Mat, Eigen::aligned_allocator<Mat>> prefix_;
    Mat residual_, back_, back_next_;
};

// G_i for all layers into `out` (same shape as layers); returns ℓ.
template <class T, class Phi>
T loss_and_gradient(LayerStack<const T> layers, const Phi& phi, LayerStack<T> out) {
    GradientSweep<T> sweep(layers.depth, layers.dim);
    const T loss = sweep.forward(layers, phi);
    sweep.backward(layers, [&](Index i, const Matrix<T>& back, const Matrix<T>* prefix) {
        if (prefix) {
            out.layer(i).noalias() = back * prefix->transpose();
        } else {
            out.layer(i) = back;
        }
    });
    return loss;
}

}  // namespace deeplinear
