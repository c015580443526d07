// The balanced factorization of factorization.hpp, compiled once per scalar type.
#include <cmath>
#include <deeplinear/factorization.hpp>
#include <limits>

namespace deeplinear {

template <class T>
BalancedFactorizer<T>::BalancedFactorizer(Index dim, const ExecutionContext& context)
    : products_(context, dim), lapack_svd_(dim), lapack_schur_(dim), orthogonal_(dim, dim), root_(dim, dim),
      inner_(dim, dim), layer_(dim, dim), scratch_(dim, dim), u_(dim, dim), v_(dim, dim), sigma_(dim) {
    angles_.reserve(static_cast<std::size_t>(dim / 2));
}

template <class T>
void BalancedFactorizer<T>::polar_of_layer() {
    svd_of_layer();
    orthogonal_.noalias() = u_ * v_.transpose();
    scratch_.noalias() = v_ * sigma_.asDiagonal();
    root_.noalias() = scratch_ * v_.transpose();
}

template <class T>
FactorStatus BalancedFactorizer<T>::factor_svd(const ColMatrix<T>& u, const ColVector<T>& sigma, const ColMatrix<T>& v,
                                               LayerStack<T> out) {
    const Index depth = out.depth, dim = out.dim;
    const FactorStatus roots = rotation_roots(u, v);
    if (roots != FactorStatus::ok) return roots;
    scratch_.noalias() = v * sigma.array().pow(T(1) / T(depth)).matrix().asDiagonal();
    root_.noalias() = scratch_ * v.transpose();
    const ColMatrix<T>& basis = *basis_;
    scratch_.noalias() = basis.transpose() * root_;
    inner_.noalias() = scratch_ * basis;  // Qᵀ M Q

    for (Index j = 1; j <= depth; ++j) {
        layer_ = inner_;
        rotate_columns(layer_, -T(j - 1) / T(depth));
        rotate_rows(layer_, T(j) / T(depth));
        // Column-major data is the row-major transpose: scratch_ = Q·X is a product of Xᵀ and Qᵀ
        // in row-major terms, and Θ_j = scratch_·Qᵀ is one of (scratch_ᵀ)ᵀ and Qᵀ.
        products_.multiply(layer_.data(), false, basis.data(), false, scratch_.data(), nullptr);
        products_.multiply(scratch_.data(), true, basis.data(), false, out.data + (j - 1) * dim * dim, nullptr);
    }
    return FactorStatus::ok;
}

template <class T>
bool BalancedFactorizer<T>::is_singular(const ColVector<T>& sigma) {
    const T tiny = T(sigma.size()) * std::numeric_limits<T>::epsilon() * sigma(0);
    return !(sigma(sigma.size() - 1) > tiny);
}

template <class T>
FactorStatus BalancedFactorizer<T>::rotation_roots(const ColMatrix<T>& u, const ColMatrix<T>& v) {
    orthogonal_.noalias() = u * v.transpose();
    const ColMatrix<T>* schur_t = nullptr;
    if (lapack_schur_.compute(orthogonal_)) {
        schur_t = &lapack_schur_.t();
        basis_ = &lapack_schur_.q();
    } else {
        if (!schur_) schur_.emplace(orthogonal_.rows());
        if (!schur_->compute(orthogonal_)) return FactorStatus::negative_eigenvalue;
        schur_t = &schur_->t();
        basis_ = &schur_->q();
    }
    return read_rotation_angles(*schur_t) ? FactorStatus::ok : FactorStatus::negative_eigenvalue;
}

template <class T>
void BalancedFactorizer<T>::svd_of_layer() {
    if (lapack_svd_.compute(layer_)) {
        u_ = lapack_svd_.u();
        v_ = lapack_svd_.vt().transpose();
        sigma_ = lapack_svd_.sigma();
        return;
    }
    if (!eigen_svd_) eigen_svd_.emplace(layer_.rows());
    eigen_svd_->compute(layer_, true);
    u_ = eigen_svd_->u();
    v_ = eigen_svd_->v();
    sigma_ = eigen_svd_->singular_values();
}

template <class T>
Index BalancedFactorizer<T>::lent_size() const {
    return 2 * layer_.size() + lapack_svd_.work_size();
}

template <class T>
void BalancedFactorizer<T>::decompose_lent(const ColMatrix<T>& a, ColMatrix<T>& u, ColVector<T>& sigma, ColMatrix<T>& v,
                                           T* lent) {
    if (lapack_svd_.work_size() > 0) {
        const Index dim = a.rows();
        Eigen::Map<ColMatrix<T>> copy(lent, dim, dim), vt(lent + dim * dim, dim, dim);
        copy = a;  // (gesdd destroys its argument)
        if (lapack_svd_.compute_lent(copy.data(), u.data(), vt.data(), lent + 2 * dim * dim)) {
            v = vt.transpose();
            sigma = lapack_svd_.sigma();
            return;
        }
    }
    decompose(a);  // no LAPACK, or it failed: as decompose() does
    u = u_;
    v = v_;
    sigma = sigma_;
}

template <class T>
bool BalancedFactorizer<T>::read_rotation_angles(const ColMatrix<T>& t) {
    angles_.clear();
    for (Index k = 0; k < t.rows();) {
        if (k + 1 < t.rows() && t(k + 1, k) != T(0)) {
            const T sine = T(0.5) * (t(k + 1, k) - t(k, k + 1));
            const T cosine = T(0.5) * (t(k, k) + t(k + 1, k + 1));
            angles_.push_back({k, std::atan2(sine, cosine)});
            k += 2;
        } else {
            if (t(k, k) < T(0)) return false;
            k += 1;
        }
    }
    return true;
}

template <class T>
void BalancedFactorizer<T>::rotate_rows(ColMatrix<T>& x, T power) const {
    for (const Block& block : angles_) {
        const T c = std::cos(power * block.angle), s = std::sin(power * block.angle);
        for (Index col = 0; col < x.cols(); ++col) {
            const T upper = x(block.row, col), lower = x(block.row + 1, col);
            x(block.row, col) = c * upper - s * lower;
            x(block.row + 1, col) = s * upper + c * lower;
        }
    }
}

template <class T>
void BalancedFactorizer<T>::rotate_columns(ColMatrix<T>& x, T power) const {
    for (const Block& block : angles_) {
        const T c = std::cos(power * block.angle), s = std::sin(power * block.angle);
        auto left = x.col(block.row);
        auto right = x.col(block.row + 1);
        for (Index row = 0; row < x.rows(); ++row) {
            const T l = left(row), r = right(row);
            left(row) = c * l + s * r;
            right(row) = -s * l + c * r;
        }
    }
}

template class BalancedFactorizer<double>;
template class BalancedFactorizer<float>;

}  // namespace deeplinear
