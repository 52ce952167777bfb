//! RSA keys as merchants paste them (PEM, or the bare base64 DER that
//! Alipay's key tool prints) and SHA256withRSA (PKCS#1 v1.5) signatures,
//! which Alipay (RSA2) and WeChat Pay v3 both use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

fn der_of(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

/// A private key in PKCS#8 or PKCS#1, PEM or bare base64.
pub fn private_key(text: &str) -> Result<RsaPrivateKey, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("private key is required".into());
    }
    let der = der_of(t).ok_or("private key is not PEM or base64")?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .map_err(|_| "private key is not an RSA key in PKCS#8 or PKCS#1 form".to_string())
}

/// A public key as SubjectPublicKeyInfo or PKCS#1, PEM or bare base64.
pub fn public_key(text: &str) -> Result<RsaPublicKey, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("public key is required".into());
    }
    let der = der_of(t).ok_or("public key is not PEM or base64")?;
    RsaPublicKey::from_public_key_der(&der)
        .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
        .map_err(|_| "public key is not an RSA public key".to_string())
}

/// Base64 SHA256withRSA signature of `message`.
pub fn sign(key: &RsaPrivateKey, message: &str) -> String {
    let signer = SigningKey::<Sha256>::new(key.clone());
    STANDARD.encode(signer.sign(message.as_bytes()).to_bytes())
}

/// True when `signature_b64` is a SHA256withRSA signature of `message` under `key`.
pub fn verify(key: &RsaPublicKey, message: &str, signature_b64: &str) -> bool {
    let Ok(raw) = STANDARD.decode(signature_b64.trim()) else { return false };
    let Ok(sig) = Signature::try_from(raw.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message.as_bytes(), &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    use super::*;

    #[test]
    fn keys_parse_in_every_form_merchants_paste_and_signatures_verify() {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("keygen");
        let pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string();
        let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let pkcs1 = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&key, LineEnding::CRLF).expect("pkcs1").to_string();
        for form in [&pem, &bare, &pkcs1] {
            assert_eq!(private_key(form).expect("parses"), key);
        }
        let public = key.to_public_key();
        let spki = public.to_public_key_pem(LineEnding::LF).expect("spki");
        let parsed = public_key(&spki).expect("parses");
        let sig = sign(&key, "a=1&b=2");
        assert!(verify(&parsed, "a=1&b=2", &sig));
        assert!(!verify(&parsed, "a=1&b=3", &sig));
        assert!(!verify(&parsed, "a=1&b=2", "bm90IGEgc2lnbmF0dXJl"));
        assert!(!verify(&parsed, "a=1&b=2", ""));
        assert!(private_key("").is_err() && public_key("   ").is_err() && public_key("not base64!").is_err());
    }
}
