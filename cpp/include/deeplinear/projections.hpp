// Frobenius-norm projections of Sec. 5 and Sec. 6.
//   H_γ = {A : uᵀAu ≥ γ for all unit u}: keep the skew part, clip the eigenvalues of the
//   symmetric part S = (A + Aᵀ)/2 from below at γ (Def. 1; Algorithm 2's power projection).
//   {A : ‖A − I‖₂ ≤ ψ}: clip the singular values of A − I at ψ (ψ-step-and-project, Sec. 6).
#pragma once

#include "common.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <algorithm>

namespace deeplinear {

// Reusable decompositions, so that projecting inside a training loop allocates nothing per step.
template <class T>
class Projector {
public:
    explicit Projector(Index dim)
        : symmetric_(dim, dim), shifted_(dim, dim), eig_(dim), svd_(dim, dim, Eigen::ComputeThinU | Eigen::ComputeThinV) {}

    // λ_min((A + Aᵀ)/2): A is γ-positive iff this exceeds γ.
    template <class In>
    T positivity_margin(const In& a) {
        symmetric_ = T(0.5) * (a + a.transpose());
        eig_.compute(symmetric_, Eigen::EigenvaluesOnly);
        return eig_.eigenvalues()(0);
    }

    // out = A + V diag(max(γ − λ, 0)) Vᵀ = K + V max(Λ, γ) Vᵀ; out may alias a.
    template <class In, class Out>
    void project_positive(const In& a, T gamma, Out&& out) {
        symmetric_ = T(0.5) * (a + a.transpose());
        // The eigenvalues alone first (several times cheaper): A is often γ-positive already,
        // e.g. along power projection once the product nears a γ-positive target.
        eig_.compute(symmetric_, Eigen::EigenvaluesOnly);
        if (!(eig_.eigenvalues()(0) < gamma)) {
            if (out.data() != a.data()) out = a;
            return;
        }
        eig_.compute(symmetric_, Eigen::ComputeEigenvectors);
        const auto& lambda = eig_.eigenvalues();  // ascending
        Index clipped = 0;
        while (clipped < lambda.size() && lambda(clipped) < gamma) ++clipped;
        if (out.data() != a.data()) out = a;
        if (clipped == 0) return;
        auto vectors = eig_.eigenvectors().leftCols(clipped);
        shifted_.leftCols(clipped) =
            vectors * (gamma - lambda.head(clipped).array()).matrix().asDiagonal();
        out.noalias() += shifted_.leftCols(clipped) * vectors.transpose();
    }

    // out = A − U diag(max(σ − ψ, 0)) Vᵀ with A − I = U Σ Vᵀ, i.e. I + U min(Σ, ψ) Vᵀ; out may alias a.
    template <class In, class Out>
    void project_identity_ball(const In& a, T psi, Out&& out) {
        symmetric_ = a;  // reused as the work matrix A − I
        symmetric_.diagonal().array() -= T(1);
        svd_.compute(symmetric_, Eigen::ComputeThinU | Eigen::ComputeThinV);
        const auto& sigma = svd_.singularValues();  // descending
        Index clipped = 0;
        while (clipped < sigma.size() && sigma(clipped) > psi) ++clipped;
        if (out.data() != a.data()) out = a;
        if (clipped == 0) return;
        shifted_.leftCols(clipped) =
            svd_.matrixU().leftCols(clipped) * (sigma.head(clipped).array() - psi).matrix().asDiagonal();
        out.noalias() -= shifted_.leftCols(clipped) * svd_.matrixV().leftCols(clipped).transpose();
    }

private:
    ColMatrix<T> symmetric_, shifted_;
    Eigen::SelfAdjointEigenSolver<ColMatrix<T>> eig_;
    Eigen::BDCSVD<ColMatrix<T>> svd_;
};

}  // namespace deeplinear
