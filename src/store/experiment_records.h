// A tenant's experiments (experiments/experiments.h): their definition,
// progress and decisions as one document each, so a restart resumes an
// experiment at the step it had reached. Lives in the tenant's database.
//
// Thread safety: safe for concurrent use; methods block on I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::store {

struct ExperimentRecord {
  std::string experiment_id;
  std::string status;  // the experiment's status (experiments/experiment.h), indexed for listing
  int64_t created_at_ms = 0, updated_at_ms = 0;
  std::string doc_json = "{}";  // everything else, owned by the experiments module
};

class ExperimentRecords {
 public:
  virtual ~ExperimentRecords() = default;
  // Inserts or replaces the experiment (by experiment_id).
  virtual Status PutExperiment(const ExperimentRecord& e) = 0;
  // kNotFound for an unknown experiment.
  virtual StatusOr<ExperimentRecord> GetExperiment(const std::string& experiment_id) = 0;
  // Newest first, at most `limit`; `statuses` empty: every experiment.
  virtual StatusOr<std::vector<ExperimentRecord>> ListExperiments(const std::vector<std::string>& statuses,
                                                                  int limit) = 0;
};

}  // namespace embedrec::store
