// mmmamba selftest: each active fast path checked against its reference on small inputs (or the
// whole op harness with --full), the result listed, and the path every op took.
#include <cstdio>

#include "cli/common.h"
#include "ops/op_check.h"
#include "ops/op_registry.h"
#include "runtime/device.h"

namespace mm::cli {

int cmd_selftest(const std::vector<std::string>& argv) {
  Args args("selftest", "[--device DEV] [--full] [--op NAME]",
            "Runs every op's dispatch against its plain reference (fp32, same rounded inputs) and lists max/mean\n"
            "differences, the error budget and the path each op took (a CUDA kernel, SDPA flash or the\n"
            "reference). On a CPU the cases that exist for CUDA fast paths are listed as skipped.",
            {{"device", "DEV", "auto, cpu, cuda[:N]", "auto"},
             {"full", "", "the whole case table: lengths 1, 127, 128, 129, 4K, batch 1 and 3, GQA, strided inputs, bf16 and fp32"},
             {"op", "NAME", "only this op's cases (as `mmmamba info --device` names them; decode_graph: the CUDA-graph decode checks)", ""}});
  if (parse_or_help(args, argv)) return 0;
  const c10::Device device = parse_device(args.get("device"));
  const std::string only = args.get("op");
  Op op;
  if (!only.empty() && only != "decode_graph" && !op_from_name(only, op))
    throw InputError("no op is named '" + only + "'", "`mmmamba info --device cpu` lists the ops; decode_graph names the graph-decode checks");
  std::printf("selftest on %s\n", describe_op_device(device).c_str());
  std::fflush(stdout);
  reset_op_paths();
  const std::vector<OpCheckResult> results = run_op_checks(device, args.flag("full"), only);
  std::printf("%s%s\n", format_op_checks(results).c_str(), op_path_status().c_str());
  for (const OpCheckResult& r : results)
    if (!r.skipped && !r.passed) return 1;
  return 0;
}

}  // namespace mm::cli
