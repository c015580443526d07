// Bindings: chained product, loss, gradient (Lemma 1), Hessian-vector product and Hessian.
#include <algorithm>
#include <cstdint>
#include <deeplinear/gemm.hpp>
#include <deeplinear/gradient.hpp>
#include <deeplinear/hessian.hpp>
#include <deeplinear/products.hpp>
#include <string>

#include "bindings.hpp"

namespace deeplinear::bindings {

template <class T>
static void register_for(py::module_& m) {
    m.def(
        "product",
        [](const Array<T>& layers_array, const std::string& isa, const std::string& backend) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto context = call_context(1, isa, backend);
            auto out = new_matrix<T>(layers.dim);
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                Products<T> products(context, layers.dim);
                Matrix<T> scratch(layers.dim, layers.dim);
                chain_product(layers, out_map, scratch, products);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::kw_only(), py::arg("isa") = "auto", py::arg("backend") = "auto");

    m.def(
        "loss",
        [](const Array<T>& layers_array, const Array<T>& phi_array, const std::string& isa,
           const std::string& backend) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            const auto context = call_context(1, isa, backend);
            py::gil_scoped_release release;
            GradientSweep<T> sweep(layers.depth, layers.dim, context);
            return static_cast<double>(sweep.forward(layers, phi));
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::kw_only(), py::arg("isa") = "auto",
        py::arg("backend") = "auto");

    m.def(
        "gradient",
        [](const Array<T>& layers_array, const Array<T>& phi_array, const std::string& isa,
           const std::string& backend) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            const auto context = call_context(1, isa, backend);
            auto out = new_layers<T>(layers.depth, layers.dim);
            auto out_view = layers_map(out);
            {
                py::gil_scoped_release release;
                loss_and_gradient(layers, phi, out_view, context);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::kw_only(), py::arg("isa") = "auto",
        py::arg("backend") = "auto");

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
                EigenOnOneThread eigen;
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
                EigenOnOneThread eigen;
                dense_hessian(layers, phi, out_map);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());
}

template <class T>
static void register_gemm(py::module_& m) {
    // The training loop's square products (gemm.hpp), exposed for tests against numpy; isa and
    // backend force a kernel (see kernel_for).
    m.def(
        "gemm",
        [](const Array<T>& a_array, const Array<T>& b_array, bool trans_a, bool trans_b, bool with_transpose,
           int threads, const std::string& isa, const std::string& backend, const std::string& split) {
            const auto a = matrix_view<T>(a_array, "a", -1);
            const Index n = a.rows();
            const auto b = matrix_view<T>(b_array, "b", n);
            const auto context = call_context(threads, isa, backend, split);
            auto c = new_matrix<T>(n);
            auto c_t = new_matrix<T>(n);
            if (with_transpose && trans_b) throw py::value_error("with_transpose needs trans_b=False");
            {
                py::gil_scoped_release release;
                Products<T> products(context, n);
                Matrix<T> scratch(n, n);
                if (with_transpose) {
                    products.multiply_and_transpose(a.data(), trans_a, b.data(), c.mutable_data(), c_t.mutable_data());
                } else {
                    products.multiply(a.data(), trans_a, b.data(), trans_b, c.mutable_data(), scratch.data());
                }
            }
            return py::make_tuple(c, c_t);
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("with_transpose") = false, py::kw_only(), py::arg("threads") = 1, py::arg("isa") = "auto",
        py::arg("backend") = "auto", py::arg("split") = "timed");
    m.def(
        "gemm_subtract",
        [](const Array<T>& a_array, const Array<T>& b_array, const Array<T>& c_array, T scale, bool trans_a,
           bool trans_b, bool in_place, int threads, const std::string& isa, const std::string& backend,
           const std::string& split) {
            const auto a = matrix_view<T>(a_array, "a", -1);
            const Index n = a.rows();
            const auto b = matrix_view<T>(b_array, "b", n);
            const auto c_in = matrix_view<T>(c_array, "c", n);
            const auto context = call_context(threads, isa, backend, split);
            auto c = new_matrix<T>(n);
            {
                py::gil_scoped_release release;
                Products<T> products(context, n);
                Matrix<T> scratch(n, n);
                T* out = c.mutable_data();
                if (in_place) std::copy(c_in.data(), c_in.data() + n * n, out);
                products.subtract(a.data(), trans_a, b.data(), trans_b, scale, in_place ? out : c_in.data(), out,
                                  scratch.data());
            }
            return c;
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("scale"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("in_place") = false, py::kw_only(),
        py::arg("threads") = 1, py::arg("isa") = "auto", py::arg("backend") = "auto", py::arg("split") = "timed",
        "c − scale·op(a)·op(b), computed into c itself (in_place) or read from c while writing a new matrix.");
}

Dtype parse_dtype(const std::string& dtype) {
    if (dtype == "float64") return Dtype::float64;
    if (dtype == "float32") return Dtype::float32;
    throw py::value_error("dtype must be 'float64' or 'float32', got '" + dtype + "'");
}

void register_core(py::module_& m) {
    register_for<double>(m);  // float64 first: pybind11 takes the first overload that matches
    register_for<float>(m);
    register_gemm<double>(m);
    register_gemm<float>(m);
    m.def(
        "gemm_backend",
        [](Index n, int threads, const std::string& dtype) {
            if (n < 1) throw py::value_error("n must be >= 1");
            return std::string(name(choose_backend(call_context(threads), n, parse_dtype(dtype))));
        },
        py::arg("n"), py::arg("threads") = 1, py::arg("dtype") = "float64",
        "The back end of a call's n×n products: 'small', 'packed' or 'blas' (see kernel_for).");
    m.def(
        "kernel_for",
        [](Index d, const std::string& dtype, int threads, const std::string& method) {
            if (d < 1) throw py::value_error("d must be >= 1");
            if (method != "gd" && method != "penalty" && method != "step_and_project" && method != "power_projection") {
                throw py::value_error("method must be one of 'gd', 'penalty', 'step_and_project', 'power_projection'");
            }
            const ExecutionContext context = call_context(threads);
            const bool whole_steps = method == "gd" || method == "penalty";
            const Backend backend = choose_backend(context, d, parse_dtype(dtype), whole_steps);
            py::dict out;
            out["backend"] = name(backend);
            out["isa"] = backend == Backend::blas ? "blas" : name(context.isa);
            out["threads"] = context.threads;
            out["split_rows"] = splits_rows(context, d, backend);
            return out;
        },
        py::arg("d"), py::arg("dtype") = "float64", py::arg("threads") = 1, py::arg("method") = "gd",
        "Which kernel a training call on d×d layers runs: back end ('fixed', 'small', 'packed' or 'blas'), "
        "instruction set of our kernels ('generic', 'avx2', 'avx512'; 'blas' for the BLAS), the threads it "
        "uses (capped at the cores available) and whether it shares a product's rows among them.");
    m.def(
        "build_info",
        [] {
            py::dict out;
            const std::string info = build_info();
            std::size_t start = 0;
            while (start < info.size()) {
                const std::size_t end = info.find('\n', start);
                const std::string line = info.substr(start, end - start);
                const std::size_t colon = line.find(": ");
                if (colon != std::string::npos) out[py::str(line.substr(0, colon))] = line.substr(colon + 2);
                start = end == std::string::npos ? info.size() : end + 1;
            }
            return out;
        },
        "How this build was compiled: compiler, flags, native (-march=native), the instruction sets of its "
        "kernels, those the CPU supports, the best of both, how the CPU runs 512-bit operations (vector_core: whole or "
        "halves), OpenMP and BLAS.");
    m.def("available_cores", &available_cores, "The cores this process may run on (its affinity mask).");
    m.def("forked_after_threads", &forked_after_threads,
          "Whether this process was forked from one that had run deeplinear with threads > 1: every call then "
          "runs on one thread (GNU OpenMP's threads do not survive fork).");
    m.def(
        "split_decisions",
        [](Index n, double seconds_alone, double seconds_split, std::int64_t products) {
            if (products < 0) throw py::value_error("products must be >= 0");
            SplitChoice choice;
            py::list decisions;
            for (std::int64_t k = 0; k < products; ++k) {
                const bool split = choice.next(n);
                decisions.append(split);
                choice.done(split ? seconds_split : seconds_alone);
            }
            return decisions;
        },
        py::arg("n"), py::arg("seconds_alone"), py::arg("seconds_split"), py::arg("products"),
        "The timed thread split driven by a made-up clock (tests): whether each of `products` products of "
        "size n is split when one takes seconds_alone on one thread and seconds_split split.");
}

}  // namespace deeplinear::bindings
