#include "train/data_parallel.h"

#include <c10/core/GradMode.h>

namespace mm {

std::vector<size_t> rank_shard(const std::vector<size_t>& global, int rank, int world) {
  const size_t n = global.size();
  const size_t lo = n * size_t(rank) / size_t(world), hi = n * size_t(rank + 1) / size_t(world);
  return std::vector<size_t>(global.begin() + long(lo), global.begin() + long(hi));
}

void all_reduce_gradients(DistGroup& group, const std::vector<NamedParam>& params, std::vector<double>& scalars,
                          const std::string& what, int64_t bucket_bytes) {
  c10::AutoGradMode no_grad(false);
  // scalars, then one presence flag per parameter: (scalars + params) fp64
  std::vector<double> head = scalars;
  for (const NamedParam& p : params) head.push_back(p.tensor.grad().defined() ? 1.0 : 0.0);
  std::vector<at::Tensor> buffers{at::tensor(head, at::TensorOptions().dtype(at::kDouble))};
  if (!params.empty() && !params[0].tensor.device().is_cpu()) buffers[0] = buffers[0].to(params[0].tensor.device());
  std::vector<std::pair<size_t, size_t>> buckets;  // [first, last) parameter of each bucket
  for (size_t i = 0; i < params.size();) {
    size_t j = i;
    int64_t bytes = 0;
    while (j < params.size() && (j == i || bytes + params[j].tensor.numel() * 4 <= bucket_bytes))
      bytes += params[j++].tensor.numel() * 4;
    std::vector<at::Tensor> flat;
    for (size_t k = i; k < j; ++k) {
      const at::Tensor g = params[k].tensor.grad();
      flat.push_back(g.defined() ? g.to(at::kFloat).reshape({-1}) : at::zeros({params[k].tensor.numel()},
                                                                               params[k].tensor.options().dtype(at::kFloat)));
    }
    buffers.push_back(at::cat(flat));  // (sum of numel in the bucket) fp32
    buckets.emplace_back(i, j);
    i = j;
  }
  group.all_reduce_sum(buffers, what);
  const at::Tensor h = buffers[0].cpu();
  for (size_t k = 0; k < scalars.size(); ++k) scalars[k] = h[int64_t(k)].item<double>();
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (size_t k = buckets[b].first; k < buckets[b].second; ++k) {
      at::Tensor p = params[k].tensor;
      const int64_t n = p.numel();
      if (h[int64_t(scalars.size() + k)].item<double>() > 0) {
        const at::Tensor reduced = buffers[b + 1].narrow(0, offset, n).view(p.sizes()).to(p.scalar_type());
        at::Tensor& g = p.mutable_grad();
        if (g.defined()) g.copy_(reduced);
        else g = reduced.clone();
      }
      offset += n;
    }
  }
}

namespace {

/// Every rank's share of per-parameter tensors, gathered: one (numel) fp32 view per parameter.
std::vector<at::Tensor> gather_shares(DistGroup& group, const AdamW& opt, const std::vector<at::Tensor>& per_param,
                                      const std::string& what) {
  return opt.split_gathered(group.all_gather(opt.local_share(per_param), what));
}

}  // namespace

void zero_gather_params(DistGroup& group, const AdamW& opt, const std::string& what) {
  c10::AutoGradMode no_grad(false);
  std::vector<at::Tensor> tensors;
  for (const NamedParam& p : opt.params()) tensors.push_back(p.tensor);
  const std::vector<at::Tensor> full = gather_shares(group, opt, tensors, what);
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].view({-1}).copy_(full[i]);
}

TensorMap zero_gather_state(DistGroup& group, const AdamW& opt) {
  TensorMap out;
  for (const bool first : {true, false}) {
    const std::vector<at::Tensor> full =
        opt.split_gathered(group.all_gather(opt.pack_local(opt.moments(first)), "the optimiser state"));
    for (size_t i = 0; i < full.size(); ++i)
      out[(first ? "exp_avg." : "exp_avg_sq.") + opt.params()[i].name] = full[i].view(opt.params()[i].tensor.sizes()).clone();
  }
  return out;
}

}  // namespace mm
