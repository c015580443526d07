// Bindings: chained product, loss, gradient (Lemma 1), Hessian-vector product and Hessian.
#include "bindings.hpp"

#include <deeplinear/gemm.hpp>
#include <deeplinear/gradient.hpp>
#include <deeplinear/hessian.hpp>
#include <deeplinear/products.hpp>

#include <algorithm>

namespace deeplinear::bindings {

template <class T>
static void register_for(py::module_& m) {
    m.def(
        "product",
        [](const Array<T>& layers_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            auto out = new_matrix<T>(layers.dim);
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                Matrix<T> scratch(layers.dim, layers.dim);
                chain_product(layers, out_map, scratch);
            }
            return out;
        },
        py::arg("layers").noconvert());

    m.def(
        "loss",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            py::gil_scoped_release release;
            ThreadScope threads(1);
            GradientSweep<T> sweep(layers.depth, layers.dim);
            return static_cast<double>(sweep.forward(layers, phi));
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "gradient",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            auto out = new_layers<T>(layers.depth, layers.dim);
            auto out_view = layers_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                loss_and_gradient(layers, phi, out_view);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "hvp",
        [](const Array<T>& layers_array, const Array<T>& phi_array, const Array<T>& direction_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            const auto direction = layers_view<T>(direction_array, "direction");
            if (direction.depth != layers.depth || direction.dim != layers.dim) {
                throw py::value_error("direction must have the same shape as layers");
            }
            auto out = new_layers<T>(layers.depth, layers.dim);
            auto out_view = layers_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                HessianVectorProduct<T> hvp(layers, phi);
                hvp.apply(direction, out_view);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::arg("direction").noconvert());

    m.def(
        "hessian",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            auto out = new_matrix<T>(layers.depth * layers.dim * layers.dim);
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                dense_hessian(layers, phi, out_map);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());
}

template <class T>
static void register_gemm(py::module_& m) {
    // The training loop's square products (gemm.hpp), exposed for tests against numpy.
    m.def(
        "gemm",
        [](const Array<T>& a_array, const Array<T>& b_array, bool trans_a, bool trans_b, bool with_transpose) {
            const auto a = matrix_view<T>(a_array, "a", -1);
            const Index n = a.rows();
            const auto b = matrix_view<T>(b_array, "b", n);
            auto c = new_matrix<T>(n);
            auto c_t = new_matrix<T>(n);
            if (with_transpose && trans_b) throw py::value_error("with_transpose needs trans_b=False");
            {
                py::gil_scoped_release release;
                Matrix<T> scratch(n, n);
                if (with_transpose) {
                    gemm_and_transpose(a.data(), trans_a, b.data(), c.mutable_data(), c_t.mutable_data(), n);
                } else {
                    gemm(a.data(), trans_a, b.data(), trans_b, c.mutable_data(), n, scratch.data());
                }
            }
            return py::make_tuple(c, c_t);
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("with_transpose") = false);
    m.def(
        "gemm_subtract",
        [](const Array<T>& a_array, const Array<T>& b_array, const Array<T>& c_array, T scale, bool trans_a,
           bool trans_b, bool in_place) {
            const auto a = matrix_view<T>(a_array, "a", -1);
            const Index n = a.rows();
            const auto b = matrix_view<T>(b_array, "b", n);
            const auto c_in = matrix_view<T>(c_array, "c", n);
            auto c = new_matrix<T>(n);
            {
                py::gil_scoped_release release;
                Matrix<T> scratch(n, n);
                T* out = c.mutable_data();
                if (in_place) std::copy(c_in.data(), c_in.data() + n * n, out);
                gemm_subtract(a.data(), trans_a, b.data(), trans_b, scale, in_place ? out : c_in.data(), out, n,
                              scratch.data());
            }
            return c;
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("scale"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("in_place") = false,
        "c − scale·op(a)·op(b), computed into c itself (in_place) or read from c while writing a new matrix.");
}

void register_core(py::module_& m) {
    register_for<double>(m);  // float64 first: pybind11 takes the first overload that matches
    register_for<float>(m);
    register_gemm<double>(m);
    register_gemm<float>(m);
    m.def("gemm_backend", [](Index n) { return std::string(gemm_backend(n)); }, py::arg("n"),
          "The back end of the training loop's float64 n×n products: 'small', 'medium', 'blas' or 'eigen'.");
    m.def(
        "set_small_split",
        [](const std::string& policy) {
            if (policy != "timed" && policy != "always" && policy != "never") {
                throw py::value_error("policy must be 'timed', 'always' or 'never', got '" + policy + "'");
            }
            set_small_split(policy == "timed" ? 0 : policy == "always" ? 1 : 2);
        },
        py::arg("policy"),
        "Whether the small kernel with threads > 1 shares its row blocks: 'timed' (the default: "
        "whichever way runs faster), 'always' or 'never'. For tests; results are the same.");
}

}  // namespace deeplinear::bindings
