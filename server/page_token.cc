// Page tokens: AES-256-GCM over the cursor, the endpoint and the query as
// additional data (page_token.h). OpenSSL's libcrypto stays in this file.
#include "server/page_token.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "server/json.h"

namespace portcullis::server {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr size_t kMaxToken = 4096;

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const std::vector<uint8_t>& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = in[i] << 16;
    if (rest == 2) v |= in[i + 1] << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool FromBase64Url(std::string_view in, std::vector<uint8_t>* out) {
  if (in.size() % 4 == 1) return false;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::find(kAlphabet, kAlphabet + 64, c);
    if (p == kAlphabet + 64) return false;
    v = (v << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<uint8_t>((v >> bits) & 0xff));
    }
  }
  // Unused low bits must be zero: one text per token.
  return (v & ((1u << bits) - 1)) == 0;
}

struct CipherDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;

// endpoint NUL query: what a token is bound to.
std::string BoundText(std::string_view endpoint, std::string_view query) {
  std::string aad(endpoint);
  aad.push_back('\0');
  aad.append(query);
  return aad;
}

// What cannot fail after start-up (an allocation in libcrypto) ends the
// process loudly.
void Require(bool ok) {
  if (!ok) std::abort();
}

void WriteCanonical(JsonWriter& w, const rapidjson::Value& v,
                    std::initializer_list<std::string_view> skip) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (const auto& m : v.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
      members.push_back(&m);
    }
    std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      WriteCanonical(w, m->value, {});
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) WriteCanonical(w, e, {});
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

}  // namespace

PageTokenKey::PageTokenKey() {
  Require(RAND_bytes(key_.data(), static_cast<int>(key_.size())) == 1);
}

Result<PageTokenKey> PageTokenKey::FromSecret(std::string_view secret,
                                              std::string_view field) {
  if (secret.size() < 16) {
    return Fail(Status::InvalidArgument(
        "the page token key must be at least 16 bytes", std::string(field)));
  }
  PageTokenKey k;
  unsigned int n = 0;
  Require(EVP_Digest(secret.data(), secret.size(), k.key_.data(), &n,
                     EVP_sha256(), nullptr) == 1 &&
          n == k.key_.size());
  return k;
}

std::string PageTokenKey::Seal(std::string_view endpoint,
                               std::string_view query,
                               std::string_view cursor) const {
  std::vector<uint8_t> out(1 + kNonce + cursor.size() + kTag);
  out[0] = kVersion;
  uint8_t* nonce = out.data() + 1;
  uint8_t* text = nonce + kNonce;
  Require(RAND_bytes(nonce, kNonce) == 1);
  const std::string aad = BoundText(endpoint, query);
  Cipher c(EVP_CIPHER_CTX_new());
  int n = 0;
  Require(c != nullptr &&
          EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                             nonce) == 1 &&
          EVP_EncryptUpdate(c.get(), nullptr, &n,
                            reinterpret_cast<const uint8_t*>(aad.data()),
                            static_cast<int>(aad.size())) == 1 &&
          EVP_EncryptUpdate(c.get(), text, &n,
                            reinterpret_cast<const uint8_t*>(cursor.data()),
                            static_cast<int>(cursor.size())) == 1 &&
          EVP_EncryptFinal_ex(c.get(), text + n, &n) == 1 &&
          EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                              text + cursor.size()) == 1);
  return Base64Url(out);
}

Result<std::string> PageTokenKey::Open(std::string_view token,
                                       std::string_view endpoint,
                                       std::string_view query,
                                       std::string_view field) const {
  auto bad = [&] {
    return Fail(Status::InvalidArgument(
        std::string(field) +
            " is not a page token this server issued for this query and "
            "endpoint",
        std::string(field)));
  };
  std::vector<uint8_t> raw;
  if (token.size() > kMaxToken || !FromBase64Url(token, &raw) ||
      raw.size() <= 1 + kNonce + kTag || raw[0] != kVersion) {
    return bad();
  }
  const uint8_t* nonce = raw.data() + 1;
  const uint8_t* text = nonce + kNonce;
  const size_t text_size = raw.size() - 1 - kNonce - kTag;
  std::vector<uint8_t> tag(text + text_size, text + text_size + kTag);
  const std::string aad = BoundText(endpoint, query);
  std::string cursor(text_size, '\0');
  Cipher c(EVP_CIPHER_CTX_new());
  int n = 0;
  Require(c != nullptr &&
          EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                             nonce) == 1 &&
          EVP_DecryptUpdate(c.get(), nullptr, &n,
                            reinterpret_cast<const uint8_t*>(aad.data()),
                            static_cast<int>(aad.size())) == 1 &&
          EVP_DecryptUpdate(c.get(), reinterpret_cast<uint8_t*>(cursor.data()),
                            &n, text, static_cast<int>(text_size)) == 1 &&
          EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                              tag.data()) == 1);
  // A wrong tag (another key, endpoint or query; a changed byte) fails here.
  if (EVP_DecryptFinal_ex(c.get(),
                          reinterpret_cast<uint8_t*>(cursor.data()) + n,
                          &n) != 1) {
    return bad();
  }
  return cursor;
}

std::string QueryText(const rapidjson::Value& request,
                      std::initializer_list<std::string_view> paging) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteCanonical(w, request, paging);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace portcullis::server
