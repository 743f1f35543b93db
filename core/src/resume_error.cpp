#include <lifeline/resume_error.hpp>

#include <string>

namespace lifeline {

std::string_view to_string(resume_error error) noexcept {
  switch (error) {
    case resume_error::malformed_token: return "malformed_token";
    case resume_error::unknown_key: return "unknown_key";
    case resume_error::forged_token: return "forged_token";
    case resume_error::expired_token: return "expired_token";
    case resume_error::unknown_session: return "unknown_session";
    case resume_error::replayed_token: return "replayed_token";
    case resume_error::not_resumable: return "not_resumable";
    case resume_error::state_lost: return "state_lost";
  }
  return "unknown";
}

namespace {

class resume_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.resume"; }
  std::string message(int value) const override {
    switch (static_cast<resume_error>(value)) {
      case resume_error::malformed_token: return "not a resume token (wrong size or format version)";
      case resume_error::unknown_key: return "resume token signed with a key this server does not hold";
      case resume_error::forged_token: return "resume token fails its MAC check (altered or not ours)";
      case resume_error::expired_token: return "resume token has expired";
      case resume_error::unknown_session: return "no such session lingering or open here";
      case resume_error::replayed_token: return "resume token already used (not the session's current epoch)";
      case resume_error::not_resumable: return "the session did not negotiate resume";
      case resume_error::state_lost: return "resumed, but messages were lost on the way";
    }
    return "unknown resume error";
  }
};

}  // namespace

const std::error_category& resume_category() noexcept {
  static const resume_category_impl category;
  return category;
}

}  // namespace lifeline
