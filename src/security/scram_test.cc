#include "security/scram.h"

#include <gtest/gtest.h>

#include "common/base64.h"

namespace ks::security {
namespace {

// Drives the server through one exchange and checks every message against the RFC's.
void check_vector(ScramHash h, const std::string& client_first, const std::string& server_nonce,
                  const std::string& salt_b64, const std::string& server_first,
                  const std::string& client_final, const std::string& server_final) {
  auto salt = base64_decode(salt_b64);
  ASSERT_TRUE(salt.has_value());
  auto cred = make_scram_credential(h, "pencil", *salt, 4096);
  ASSERT_TRUE(cred.ok()) << cred.status().to_string();
  ScramServer server(h);
  auto user = server.client_first(client_first);
  ASSERT_TRUE(user.ok()) << user.status().to_string();
  EXPECT_EQ(*user, "user");
  EXPECT_EQ(server.server_first(*cred, server_nonce), server_first);
  auto fin = server.client_final(client_final);
  ASSERT_TRUE(fin.ok()) << fin.status().to_string();
  EXPECT_EQ(*fin, server_final);
}

TEST(Scram, Rfc5802Sha1Vector) {
  check_vector(ScramHash::kSha1, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
               "QSXCR+Q6sek8bf92", "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
               "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
               "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

TEST(Scram, Rfc7677Sha256Vector) {
  check_vector(ScramHash::kSha256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
               "W22ZaJ0SNY7soEsUEjb6gQ==",
               "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
               "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
               "Ute9ytag9zjfMHgsqmmiz7AndVQ=",
               "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

// SHA-512 has no RFC vector: a round trip through our client-side helper.
TEST(Scram, Sha512RoundTripAndWrongPassword) {
  for (const char* password : {"secret", "wrong"}) {
    auto cred = new_scram_credential(ScramHash::kSha512, "secret", 4096);
    ASSERT_TRUE(cred.ok());
    ScramServer server(ScramHash::kSha512);
    ASSERT_TRUE(server.client_first("n,,n=alice,r=abcdef").ok());
    std::string sf = server.server_first(*cred);
    std::string nonce = sf.substr(2, sf.find(',') - 2);
    std::string without_proof = "c=biws,r=" + nonce;
    std::string auth = "n=alice,r=abcdef," + sf + "," + without_proof;
    auto p = scram_client_proof(ScramHash::kSha512, password, cred->salt, 4096, auth);
    auto fin = server.client_final(without_proof + ",p=" + base64_encode(p.proof));
    if (std::string(password) == "secret") {
      ASSERT_TRUE(fin.ok()) << fin.status().to_string();
      EXPECT_EQ(*fin, "v=" + base64_encode(p.server_signature));
    } else {
      ASSERT_FALSE(fin.ok());
      EXPECT_EQ(fin.status().code(), Errc::fenced);
    }
  }
}

TEST(Scram, ClientFirstParsing) {
  EXPECT_EQ(*ScramServer(ScramHash::kSha256).client_first("n,,n=a=2Cb=3Dc,r=xyz"), "a,b=c");
  EXPECT_EQ(*ScramServer(ScramHash::kSha256).client_first("n,a=bob,n=bob,r=xyz"), "bob");
  EXPECT_EQ(*ScramServer(ScramHash::kSha256).client_first("n,,n=bob,r=xyz,tokenauth=true"), "bob");
  for (const char* bad :
       {"", "n", "p=tls-unique,,n=a,r=b", "x,,n=a,r=b", "n,,r=b,n=a", "n,,n=,r=b", "n,,n=a=2X,r=b", "n,,n=a",
        "n,a=eve,n=bob,r=x", "n,,n=a,r=b,m=ext", "n,,n=a,r=b c"}) {
    EXPECT_FALSE(ScramServer(ScramHash::kSha256).client_first(bad).ok()) << bad;
  }
}

TEST(Scram, ClientFinalChecksNonceAndBinding) {
  auto cred = make_scram_credential(ScramHash::kSha256, "pw", "salt", 4096);
  ASSERT_TRUE(cred.ok());
  for (const char* bad : {"c=biws,r=OTHER,p=AAAA", "c=eSws,r=NONCE,p=AAAA", "c=biws,r=NONCE", "garbage",
                          "c=biws,r=NONCE,p=!!"}) {
    ScramServer s(ScramHash::kSha256);
    ASSERT_TRUE(s.client_first("n,,n=u,r=N").ok());
    s.server_first(*cred, "ONCE");
    std::string msg = bad;
    if (auto at = msg.find("NONCE"); at != std::string::npos) msg.replace(at, 5, "NONCE");
    EXPECT_FALSE(s.client_final(msg).ok()) << bad;
  }
  ScramServer twice(ScramHash::kSha256);
  EXPECT_FALSE(twice.client_final("c=biws,r=x,p=AAAA").ok());  // out of order
}

TEST(Scram, CredentialEncodingRoundTripAndBounds) {
  // Spaces: base64 salts and keys can never contain it ("pw" turned up in random salts now and then).
  const std::string password = "not in base64";
  auto cred = new_scram_credential(ScramHash::kSha256, password, 4096);
  ASSERT_TRUE(cred.ok());
  std::string text = encode_scram_credential(*cred);
  EXPECT_EQ(text.find(password), std::string::npos);
  auto back = decode_scram_credential(text);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->salt, cred->salt);
  EXPECT_EQ(back->stored_key, cred->stored_key);
  EXPECT_EQ(back->server_key, cred->server_key);
  EXPECT_EQ(back->iterations, 4096);
  EXPECT_FALSE(decode_scram_credential("{}").ok());
  EXPECT_FALSE(decode_scram_credential("not json").ok());
  EXPECT_FALSE(decode_scram_credential(R"({"v":1,"mechanism":"SCRAM-SHA-256","iterations":1,"salt":"AA==",)"
                                       R"("stored_key":"AA==","server_key":"AA=="})")
                   .ok());
  EXPECT_FALSE(make_scram_credential(ScramHash::kSha256, "pw", "salt", 4095).ok());
  EXPECT_FALSE(make_scram_credential(ScramHash::kSha256, "pw", "", 4096).ok());
  EXPECT_EQ(scram_mechanism("SCRAM-SHA-512"), ScramHash::kSha512);
  EXPECT_FALSE(scram_mechanism("SCRAM-SHA-1").has_value());
}

}  // namespace
}  // namespace ks::security
