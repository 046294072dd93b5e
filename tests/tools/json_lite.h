// A tiny strict JSON reader for tests: enough to check that the profiler's
// --json and --trace files are valid JSON (RFC 8259) and to look inside.
// Not for production input: no depth limit beyond the test's own files.
#ifndef TESSERA_TESTS_TOOLS_JSON_LITE_H_
#define TESSERA_TESTS_TOOLS_JSON_LITE_H_

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::testing {

struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  bool Has(const std::string& key) const { return type == Type::kObject && object.count(key) != 0; }
  const Json& operator[](const std::string& key) const { return object.at(key); }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  // The document, or false with *error saying where parsing stopped.
  bool Parse(Json* out, std::string* error) {
    pos_ = 0;
    ok_ = true;
    SkipSpace();
    *out = Value();
    SkipSpace();
    if (ok_ && pos_ != text_.size()) Fail("trailing characters");
    if (!ok_) *error = error_;
    return ok_;
  }

 private:
  void Fail(const std::string& what) {
    if (!ok_) return;
    ok_ = false;
    error_ = what + " at offset " + std::to_string(pos_);
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
                                   text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Literal(const char* word) {
    const std::string w(word);
    if (text_.compare(pos_, w.size(), w) != 0) return false;
    pos_ += w.size();
    return true;
  }
  Json Value() {
    Json v;
    if (!ok_ || pos_ >= text_.size()) {
      Fail("unexpected end");
      return v;
    }
    const char c = text_[pos_];
    if (c == '{') {
      v.type = Json::Type::kObject;
      ++pos_;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return v;
      }
      while (ok_) {
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != '"') {
          Fail("expected a key");
          break;
        }
        const std::string key = String();
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != ':') {
          Fail("expected ':'");
          break;
        }
        ++pos_;
        SkipSpace();
        if (v.object.count(key) != 0) Fail("duplicate key '" + key + "'");
        v.object[key] = Value();
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
        } else if (pos_ < text_.size() && text_[pos_] == '}') {
          ++pos_;
          break;
        } else {
          Fail("expected ',' or '}'");
        }
      }
    } else if (c == '[') {
      v.type = Json::Type::kArray;
      ++pos_;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return v;
      }
      while (ok_) {
        SkipSpace();
        v.array.push_back(Value());
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
        } else if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          break;
        } else {
          Fail("expected ',' or ']'");
        }
      }
    } else if (c == '"') {
      v.type = Json::Type::kString;
      v.string = String();
    } else if (Literal("true")) {
      v.type = Json::Type::kBool;
      v.boolean = true;
    } else if (Literal("false")) {
      v.type = Json::Type::kBool;
    } else if (Literal("null")) {
      v.type = Json::Type::kNull;
    } else {
      v.type = Json::Type::kNumber;
      v.number = Number();
    }
    return v;
  }
  // RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  double Number() {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t s = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > s;
    };
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      Fail("expected a value");
      return 0;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) Fail("expected digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) Fail("expected an exponent");
    }
    return std::strtod(text_.substr(start, pos_ - start).c_str(), nullptr);
  }
  std::string String() {
    std::string s;
    ++pos_;  // opening quote
    while (ok_) {
      if (pos_ >= text_.size()) {
        Fail("unterminated string");
        break;
      }
      const unsigned char c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') break;
      if (c < 0x20) {
        Fail("control character in a string");
        break;
      }
      if (c != '\\') {
        s += static_cast<char>(c);
        continue;
      }
      if (pos_ >= text_.size()) {
        Fail("unterminated escape");
        break;
      }
      const char e = text_[pos_++];
      switch (e) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          if (pos_ + 4 > text_.size()) {
            Fail("short \\u escape");
            break;
          }
          const unsigned long code = std::strtoul(text_.substr(pos_, 4).c_str(), nullptr, 16);
          pos_ += 4;
          s += code < 0x80 ? static_cast<char>(code) : '?';  // enough for tests
          break;
        }
        default: Fail("bad escape");
      }
    }
    return s;
  }

  const std::string& text_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
};

}  // namespace tessera::testing

#endif  // TESSERA_TESTS_TOOLS_JSON_LITE_H_
