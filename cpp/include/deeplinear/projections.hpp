// Frobenius-norm projections of Sec. 5 and Sec. 6.
//   H_γ = {A : uᵀAu ≥ γ for all unit u}: keep the skew part, clip the eigenvalues of the
//   symmetric part S = (A + Aᵀ)/2 from below at γ (Def. 1; Algorithm 2's power projection).
//   {A : ‖A − I‖₂ ≤ ψ}: clip the singular values of A − I at ψ (ψ-step-and-project, Sec. 6).
// The work is out of line (cpp/core/projections.cpp) on a column-major copy of the argument, in
// buffers of the Projector's own (made on first use) or, for the ψ-ball, lent by the caller.
#pragma once

#include "common.hpp"
#include "decompositions.hpp"
#include "gemm.hpp"

#include <optional>

namespace deeplinear {

// Reusable decompositions, so that projecting inside a training loop allocates nothing per step.
template <class T>
class Projector {
public:
    explicit Projector(Index dim);

    // λ_min((A + Aᵀ)/2): A is γ-positive iff this exceeds γ.
    template <class In>
    T positivity_margin(const In& a) {
        work_ = a;
        return margin();
    }

    // out = A + V diag(max(γ − λ, 0)) Vᵀ = K + V max(Λ, γ) Vᵀ; out may alias a.
    template <class In, class Out>
    void project_positive(const In& a, T gamma, Out&& out) {
        work_ = a;
        project_positive(gamma);
        out = work_;
    }

    // out = A − U diag(max(σ − ψ, 0)) Vᵀ with A − I = U Σ Vᵀ, i.e. I + U min(Σ, ψ) Vᵀ; out may alias a.
    template <class In, class Out>
    void project_identity_ball(const In& a, T psi, Out&& out) {
        work_ = a;
        project_identity_ball(psi);
        out = work_;
    }

    // The elements of the block that project_identity_ball_lent() borrows: U, Vᵀ and LAPACK's
    // workspace (5d² + 7d); 0 where the SVD has no LAPACK path (d ≤ 16, or no LAPACK in the
    // build), and the lent overload then works in the Projector's own buffers.
    Index identity_ball_block() const;

    // The ψ-ball projection of `a` (d × d, row-major) in place, its work in buffers the caller
    // lends: `matrix` (d × d) and `block` (identity_ball_block() elements), e.g. memory that a
    // gradient sweep has done with, and its product U·f(Σ)·Vᵀ by `products` (whose buffers are
    // made already; Eigen's product would allocate its own). The result of
    // project_identity_ball(a, psi, a) to rounding: the same SVD, the product in another order.
    void project_identity_ball_lent(T* a, T psi, T* matrix, T* block, Products<T>& products);

private:
    // On work_ (= A): the margin, and the projections in place.
    T margin();
    void project_positive(T gamma);
    void project_identity_ball(T psi);
    // The same by one-sided Jacobi (where the size has no LAPACK path); false where it does not
    // take A − I (not finite, or of an extreme scale), which the SVD then does.
    bool project_identity_ball_jacobi(T psi);

    Index dim_;
    ColMatrix<T> work_, symmetric_, shifted_;  // sized on first use
    std::optional<SymmetricEigen<T>> eig_;     // made on first use
    Svd<T> svd_;
    std::optional<OneSidedJacobi<T>> jacobi_;  // made on first use
};

extern template class Projector<double>;
extern template class Projector<float>;

}  // namespace deeplinear
