// Frobenius-norm projections of Sec. 5 and Sec. 6.
//   H_γ = {A : uᵀAu ≥ γ for all unit u}: keep the skew part, clip the eigenvalues of the
//   symmetric part S = (A + Aᵀ)/2 from below at γ (Def. 1; Algorithm 2's power projection).
//   {A : ‖A − I‖₂ ≤ ψ}: clip the singular values of A − I at ψ (ψ-step-and-project, Sec. 6).
// The work is out of line (cpp/core/projections.cpp) on a column-major copy of the argument.
#pragma once

#include "common.hpp"
#include "decompositions.hpp"

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

private:
    // On work_ (= A): the margin, and the projections in place.
    T margin();
    void project_positive(T gamma);
    void project_identity_ball(T psi);

    ColMatrix<T> work_, symmetric_, shifted_;
    SymmetricEigen<T> eig_;
    Svd<T> svd_;
};

extern template class Projector<double>;
extern template class Projector<float>;

}  // namespace deeplinear
