// The projections of projections.hpp, compiled once per scalar type.
#include <deeplinear/projections.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace deeplinear {

namespace {

// Whether A − I (its Frobenius norm) is so far inside the ψ-ball that the SVD would clip nothing:
// ‖A − I‖₂ ≤ ‖A − I‖_F, with a slack for the rounding of both norms, so that the shortcut returns
// exactly where the SVD would have (a NaN or an overflow goes on to the SVD).
template <class T>
bool well_inside_ball(T frobenius, T psi, Index dim) {
    const T slack = T(1) - T(16) * static_cast<T>(dim) * std::numeric_limits<T>::epsilon();
    return slack > T(0) && frobenius <= psi * slack;
}

// How many of the singular values σ (descending) exceed ψ.
template <class T>
Index clipped_count(const ColVector<T>& sigma, T psi) {
    Index clipped = 0;
    while (clipped < sigma.size() && sigma(clipped) > psi) ++clipped;
    return clipped;
}

// The ψ-ball projection of A is A − Σ_{σ_i > ψ} (σ_i − ψ) u_i v_iᵀ = I + U min(Σ, ψ) Vᵀ. The
// first form (the clipped part subtracted from A) leaves A's unclipped part as it is and adds
// only the rounding of the clipped part (as project_positive does): used while that part, at
// most σ_max − ψ, is no larger than ψ, the result's scale. Beyond, the subtraction would cancel
// (A = 10²⁰·I must give (1 + ψ)·I, not 0), and the second form is built from scratch.
template <class T>
bool subtracts_clipped_part(T largest, T psi) {
    return largest - psi <= psi;
}

}  // namespace

template <class T>
Projector<T>::Projector(Index dim) : dim_(dim), svd_(dim) {}

template <class T>
T Projector<T>::margin() {
    symmetric_ = T(0.5) * (work_ + work_.transpose());
    if (!eig_) eig_.emplace(dim_);
    eig_->compute(symmetric_, false);
    return eig_->eigenvalues()(0);
}

template <class T>
void Projector<T>::project_positive(T gamma) {
    // The eigenvalues alone first (several times cheaper): A is often γ-positive already, e.g.
    // along power projection once the product nears a γ-positive target.
    if (!(margin() < gamma)) return;
    eig_->compute(symmetric_, true);
    const auto& lambda = eig_->eigenvalues();  // ascending
    Index clipped = 0;
    while (clipped < lambda.size() && lambda(clipped) < gamma) ++clipped;
    if (clipped == 0) return;
    const auto& vectors = eig_->eigenvectors();
    shifted_.resize(dim_, dim_);
    // A + V_c (γ − Λ_c) V_cᵀ changes only the clipped directions, with rounding of the order of
    // ε·(‖A‖ + the correction): fine while the correction is no larger than what stays, but a
    // correction far larger than the result (A = −10¹²·I, γ = 0.05) would leave only its
    // rounding. There the result is formed from the formula itself, K + V max(Λ, γ) Vᵀ, whose
    // rounding is of the order of ε·‖result‖.
    const T correction = gamma - lambda(0), largest = lambda(lambda.size() - 1);
    const T kept = std::max(std::abs(gamma), largest > gamma ? std::abs(largest) : T(0));  // the result's scale
    if (correction <= kept) {
        shifted_.leftCols(clipped) =
            vectors.leftCols(clipped) * (gamma - lambda.head(clipped).array()).matrix().asDiagonal();
        work_.noalias() += shifted_.leftCols(clipped) * vectors.leftCols(clipped).transpose();
        return;
    }
    shifted_ = vectors * lambda.array().max(gamma).matrix().asDiagonal();
    for (Index j = 0; j < work_.cols(); ++j) {  // work_ = K = (A − Aᵀ)/2, in place
        work_(j, j) = T(0);
        for (Index i = j + 1; i < work_.rows(); ++i) {
            const T skew = T(0.5) * (work_(i, j) - work_(j, i));
            work_(i, j) = skew;
            work_(j, i) = -skew;
        }
    }
    work_.noalias() += shifted_ * vectors.transpose();
}

template <class T>
void Projector<T>::project_identity_ball(T psi) {
    symmetric_ = work_;  // reused as the work matrix A − I
    symmetric_.diagonal().array() -= T(1);
    // Well inside the ball the projection leaves A as it is.
    if (well_inside_ball(symmetric_.norm(), psi, work_.rows())) return;
    // No LAPACK path for this size: one-sided Jacobi, where it takes A − I (finite, and not of
    // an extreme scale).
    if (svd_.lent_work_size() == 0 && project_identity_ball_jacobi(psi)) return;
    if (!svd_.compute(symmetric_, true)) {  // A is not finite: so is its projection
        work_.setConstant(std::numeric_limits<T>::quiet_NaN());
        return;
    }
    const auto& sigma = svd_.singular_values();  // descending
    const Index clipped = clipped_count(sigma, psi);
    if (clipped == 0) return;
    shifted_.resize(dim_, dim_);
    if (subtracts_clipped_part(sigma(0), psi)) {
        shifted_.leftCols(clipped) =
            svd_.u().leftCols(clipped) * (sigma.head(clipped).array() - psi).matrix().asDiagonal();
        work_.noalias() -= shifted_.leftCols(clipped) * svd_.v().leftCols(clipped).transpose();
        return;
    }
    shifted_ = svd_.u() * sigma.array().min(psi).matrix().asDiagonal();
    work_.noalias() = shifted_ * svd_.v().transpose();
    work_.diagonal().array() += T(1);
}

template <class T>
bool Projector<T>::project_identity_ball_jacobi(T psi) {
    if (!jacobi_) jacobi_.emplace(dim_);
    if (!jacobi_->compute(symmetric_, true, psi)) return false;  // W to ε·ψ: the result's scale
    // A − I = W Vᵀ with W = UΣ: the projection is A − Σ_{σ_i > ψ} (1 − ψ/σ_i) w_i v_iᵀ or
    // I + W min(1, ψ/σ) Vᵀ (subtracts_clipped_part).
    const auto& sigma = jacobi_->sigma();  // in no order
    const auto& w = jacobi_->w();
    const auto& v = jacobi_->v();
    const T largest = sigma.maxCoeff();
    if (!(largest > psi)) return true;
    if (subtracts_clipped_part(largest, psi)) {
        for (Index i = 0; i < dim_; ++i) {
            if (sigma(i) > psi) work_.noalias() -= (w.col(i) * ((sigma(i) - psi) / sigma(i))) * v.col(i).transpose();
        }
        return true;
    }
    shifted_.resize(dim_, dim_);
    for (Index i = 0; i < dim_; ++i) {  // ψ·u_i where clipped: (w_i/σ_i)·ψ, as ψ/σ_i may underflow
        if (sigma(i) > psi) {
            shifted_.col(i) = (w.col(i) / sigma(i)) * psi;
        } else {
            shifted_.col(i) = w.col(i);
        }
    }
    work_.noalias() = shifted_ * v.transpose();
    work_.diagonal().array() += T(1);
    return true;
}

template <class T>
Index Projector<T>::identity_ball_block() const {
    const Index work = svd_.lent_work_size();
    return work == 0 ? 0 : 2 * dim_ * dim_ + work;
}

template <class T>
void Projector<T>::project_identity_ball_lent(T* a, T psi, T* matrix, T* block, Products<T>& products) {
    MatrixMap<T> layer(a, dim_, dim_);
    if (identity_ball_block() == 0) {
        project_identity_ball(layer, psi, layer);
        return;
    }
    // The steps of project_identity_ball(T) with x = A − I in `matrix` and U, Vᵀ and gesdd's
    // workspace in `block`.
    const Index size = dim_ * dim_;
    Eigen::Map<ColMatrix<T>> x(matrix, dim_, dim_), u(block, dim_, dim_);
    x = layer;
    x.diagonal().array() -= T(1);
    if (well_inside_ball(x.norm(), psi, dim_)) return;
    T* vt = block + size;
    T* spent = block + 2 * size;  // gesdd's workspace, free again once it has returned
    if (!svd_.compute_lent(x.data(), u.data(), vt, spent)) {
        project_identity_ball(layer, psi, layer);  // not finite, or gesdd failed: as without a loan
        return;
    }
    const auto& sigma = svd_.singular_values();
    const Index clipped = clipped_count(sigma, psi);
    if (clipped == 0) return;
    // Column-major U and Vᵀ are Uᵀ and V to the row-major products: A − U f(Σ) Vᵀ is
    // A − op(Uᵀ)·op(V) with both transposed, and the small kernel's transposed copy goes into
    // the spent workspace. The clipped part alone: f = max(σ − ψ, 0), zero in the other columns.
    if (subtracts_clipped_part(sigma(0), psi)) {
        u.leftCols(clipped).array().rowwise() *= (sigma.head(clipped).array() - psi).transpose();
        u.rightCols(dim_ - clipped).setZero();
        // What the update reads, row-major as the layer (in place the packed kernel would keep its
        // sums apart, in a matrix of its own).
        std::copy(a, a + size, matrix);
        products.subtract(u.data(), true, vt, true, T(1), matrix, a, spent);
        return;
    }
    u.array().rowwise() *= sigma.array().min(psi).transpose();
    products.multiply(u.data(), true, vt, true, a, spent);
    layer.diagonal().array() += T(1);
}

template class Projector<double>;
template class Projector<float>;

}  // namespace deeplinear
