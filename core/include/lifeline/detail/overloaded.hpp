// lifeline/detail/overloaded.hpp — a set of lambdas as one visitor for std::visit.
#pragma once

namespace lifeline::detail {

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;  // clang 14 lacks aggregate deduction

}  // namespace lifeline::detail
