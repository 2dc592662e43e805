#include "datagen/movielens.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/byte_source.h"
#include "common/csv.h"

namespace embedrec::datagen {
namespace {

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : in_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(in_); }
  StatusOr<size_t> Read(char* buf, size_t n) override {
    in_.read(buf, static_cast<std::streamsize>(n));
    if (in_.bad()) return Status::Internal("read failed");
    return static_cast<size_t>(in_.gcount());
  }

 private:
  std::ifstream in_;
};

// Runs `row` on every data record of `path` (header checked against `header`).
Status EachRow(const std::string& path, const std::vector<std::string>& header,
               const std::function<Status(const CsvRecord&)>& row) {
  FileSource src(path);
  if (!src.ok()) return Status::NotFound("cannot open " + path);
  bool first = true;
  CsvParser parser({}, [&](const CsvRecord& r) -> Status {
    if (!r.error.empty()) {
      return Status::InvalidArgument(path + " record " + std::to_string(r.record) + ": " + r.error);
    }
    if (first) {
      first = false;
      if (std::vector<std::string>(r.fields.begin(), r.fields.end()) != header) {
        return Status::InvalidArgument(path + " does not have the expected MovieLens header");
      }
      return Status::Ok();
    }
    if (r.fields.size() != header.size()) {
      return Status::InvalidArgument(path + " record " + std::to_string(r.record) +
                                     " has the wrong number of fields");
    }
    return row(r);
  });
  return parser.ParseAll(&src);
}

}  // namespace

StatusOr<MovielensStats> ConvertMovielens(const std::string& in_dir, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Status::Internal("cannot create " + out_dir + ": " + ec.message());
  MovielensStats st;
  std::ofstream items(out_dir + "/items.csv", std::ios::binary);
  items << "item_id,name,category,tags\n";
  RETURN_IF_ERROR(EachRow(in_dir + "/movies.csv", {"movieId", "title", "genres"},
                          [&](const CsvRecord& r) {
                            std::string_view genres = r.fields[2];
                            std::string_view first = genres.substr(0, genres.find('|'));
                            if (first == "(no genres listed)") first = {}, genres = {};
                            items << r.fields[0] << ',' << CsvQuote(r.fields[1]) << ','
                                  << CsvQuote(first) << ',' << CsvQuote(genres) << '\n';
                            ++st.items;
                            return Status::Ok();
                          }));
  std::ofstream inter(out_dir + "/interactions.csv", std::ios::binary);
  inter << "user_id,item_id,interaction_type,timestamp,rating\n";
  RETURN_IF_ERROR(EachRow(in_dir + "/ratings.csv", {"userId", "movieId", "rating", "timestamp"},
                          [&](const CsvRecord& r) {
                            double rating = std::strtod(std::string(r.fields[2]).c_str(), nullptr);
                            if (rating < 1) {
                              rating = 1;
                              ++st.ratings_raised_to_1;
                            }
                            char buf[16];
                            std::snprintf(buf, sizeof buf, "%g", rating);
                            inter << r.fields[0] << ',' << r.fields[1] << ",rating," << r.fields[3]
                                  << ',' << buf << '\n';
                            ++st.ratings;
                            return Status::Ok();
                          }));
  if (!items.good() || !inter.good()) return Status::Internal("writing " + out_dir + " failed");
  return st;
}

}  // namespace embedrec::datagen
