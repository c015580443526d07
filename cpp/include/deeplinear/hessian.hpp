// Second derivatives of ℓ (Sec. 2, Lemma 3): Hessian-vector products by forward-mode
// differentiation of the gradient sweep, and the dense Hessian in the paper's flattening.
#pragma once

#include "common.hpp"

namespace deeplinear {

// out = ∇²ℓ[Δ]. With prefixes P_i = Θ_{1:i} and their tangents dP_i = Θ_i dP_{i−1} + Δ_i P_{i−1},
// the residual tangent is dE = dP_L = DΘ_{1:L}[Δ]; the backward sweep B_{i−1} = Θ_iᵀ B_i has
// tangent dB_{i−1} = Δ_iᵀ B_i + Θ_iᵀ dB_i, and d(G_i) = dB_i P_{i−1}ᵀ + B_i dP_{i−1}ᵀ.
template <class T>
class HessianVectorProduct {
public:
    template <class Phi>
    HessianVectorProduct(LayerStack<const T> layers, const Phi& phi)
        : layers_(layers), prefix_(static_cast<std::size_t>(layers.depth + 1)),
          back_(static_cast<std::size_t>(layers.depth + 1)) {
        const Index depth = layers.depth, dim = layers.dim;
        prefix_[0] = Matrix<T>::Identity(dim, dim);
        for (Index i = 1; i <= depth; ++i) prefix_[i].noalias() = layers.layer(i - 1) * prefix_[i - 1];
        back_[depth] = prefix_[depth] - phi;
        for (Index i = depth; i >= 1; --i) back_[i - 1].noalias() = layers.layer(i - 1).transpose() * back_[i];
        dprefix_.assign(static_cast<std::size_t>(depth + 1), Matrix<T>::Zero(dim, dim));
        dback_ = Matrix<T>(dim, dim);
        scratch_ = Matrix<T>(dim, dim);
    }

    void apply(LayerStack<const T> direction, LayerStack<T> out) {
        const Index depth = layers_.depth;
        for (Index i = 1; i <= depth; ++i) {
            dprefix_[i].noalias() = layers_.layer(i - 1) * dprefix_[i - 1];
            dprefix_[i].noalias() += direction.layer(i - 1) * prefix_[i - 1];
        }
        dback_ = dprefix_[depth];
        for (Index i = depth; i >= 1; --i) {
            auto result = out.layer(i - 1);
            result.noalias() = dback_ * prefix_[i - 1].transpose();
            result.noalias() += back_[i] * dprefix_[i - 1].transpose();
            scratch_.noalias() = direction.layer(i - 1).transpose() * back_[i];
            scratch_.noalias() += layers_.layer(i - 1).transpose() * dback_;
            dback_.swap(scratch_);
        }
    }

private:
    LayerStack<const T> layers_;
    std::vector<Matrix<T>> prefix_;   // P_0 = I, …, P_L = Θ_{1:L}
    std::vector<Matrix<T>> back_;     // B_i = Θ_{i+1:L}ᵀ E, i = 0..L
    std::vector<Matrix<T>> dprefix_;  // dP_0 = 0, …
    Matrix<T> dback_, scratch_;
};

// The (L·d²)×(L·d²) Hessian, flattened layer by layer, each layer by vec() (column
// stacking): entry (r, c) of layer i has index i·d² + c·d + r. Column k is ∇²ℓ[e_k].
template <class T, class Phi, class Out>
void dense_hessian(LayerStack<const T> layers, const Phi& phi, Out&& out) {
    const Index depth = layers.depth, dim = layers.dim, block = dim * dim, n = depth * block;
    HessianVectorProduct<T> hvp(layers, phi);
    OwnedStack<T> unit(depth, dim), column(depth, dim);
    auto vec_index = [&](Index k) {  // storage offset of flat index k
        const Index layer = k / block, within = k % block;
        return layer * block + (within % dim) * dim + within / dim;
    };
    for (Index k = 0; k < n; ++k) {
        unit.storage[static_cast<std::size_t>(vec_index(k))] = T(1);
        hvp.apply(unit.view().as_const(), column.view());
        unit.storage[static_cast<std::size_t>(vec_index(k))] = T(0);
        for (Index j = 0; j < n; ++j) out(j, k) = column.storage[static_cast<std::size_t>(vec_index(j))];
    }
}

}  // namespace deeplinear
