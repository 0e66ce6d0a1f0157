//! Hyperliquid's L1-action signing, and the private key it needs.
//!
//! The scheme (python-sdk `hyperliquid/utils/signing.py` `action_hash`, `construct_phantom_agent`,
//! `sign_l1_action`; rust-sdk `src/exchange/exchange_client.rs`; `docs/external-apis.md` §1.5):
//!
//! 1. `data = msgpack(action)` — a map with the SDK's key order ([`rmp_serde::to_vec_named`]),
//! 2. `‖ nonce` as 8 bytes big-endian,
//! 3. `‖ 0x00` without a vault, `‖ 0x01 ‖ vault address (20 bytes)` with one,
//! 4. `connectionId = keccak256(data)`,
//! 5. the "phantom agent" `Agent { source: "a" (mainnet) | "b" (testnet), connectionId }` signed
//!    as EIP-712 typed data in the domain `Exchange`, version `1`, chain id 1337, verifying
//!    contract `0x0`, with secp256k1 (RFC 6979 nonces, low-s), `v = 27 + y-parity`.
//!
//! The key is read from `HYPERLIQUID_PRIVATE_KEY` or from the file `HYPERLIQUID_KEY_FILE`
//! (outside any git checkout). It is never logged (`Debug` prints only the address), never
//! written anywhere, and the buffers that held its hex are zeroed.

use std::path::Path;

use alloy_primitives::{keccak256, Address, Signature, B256, U256};
use alloy_signer::k256::ecdsa::{signature::hazmat::PrehashSigner, RecoveryId, SigningKey};
use alloy_sol_types::{eip712_domain, sol, Eip712Domain, SolStruct};
use serde::Serialize;
use zeroize::Zeroizing;

use super::wire::WireSignature;

/// Env var holding the signing key as hex (`0x` optional).
pub const KEY_ENV: &str = "HYPERLIQUID_PRIVATE_KEY";
/// Env var naming a file that holds the signing key as hex.
pub const KEY_FILE_ENV: &str = "HYPERLIQUID_KEY_FILE";

sol! {
    /// The phantom agent of the L1 signing scheme.
    struct Agent {
        string source;
        bytes32 connectionId;
    }
}

/// Mainnet or testnet: the phantom agent's `source` and the default host differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mainnet,
    Testnet,
}

impl Network {
    /// `"a"` on mainnet, `"b"` on testnet.
    pub fn source(self) -> &'static str {
        match self {
            Network::Mainnet => "a",
            Network::Testnet => "b",
        }
    }

    /// The official API host (python-sdk `utils/constants.py`).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Network::Mainnet => "https://api.hyperliquid.xyz",
            Network::Testnet => "https://api.hyperliquid-testnet.xyz",
        }
    }
}

impl std::str::FromStr for Network {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mainnet" => Ok(Network::Mainnet),
            "testnet" => Ok(Network::Testnet),
            other => Err(SigningError::Config(format!(
                "network must be \"mainnet\" or \"testnet\", not {other:?}"
            ))),
        }
    }
}

/// Signing and key failures. None of them is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The action could not be msgpack-encoded.
    #[error("msgpack encoding failed: {0}")]
    Encode(String),
    /// The key is missing, unreadable or malformed (the message never contains the key).
    #[error("private key: {0}")]
    Key(String),
    /// A configuration value is malformed.
    #[error("{0}")]
    Config(String),
    /// secp256k1 signing or recovery failed.
    #[error("signature: {0}")]
    Signature(String),
}

/// The EIP-712 domain of L1 actions.
pub fn exchange_domain() -> Eip712Domain {
    eip712_domain! {
        name: "Exchange",
        version: "1",
        chain_id: 1337,
        verifying_contract: Address::ZERO,
    }
}

/// `keccak256(msgpack(action) ‖ nonce_be8 ‖ vault flag [‖ vault])`: the phantom agent's
/// `connectionId`.
///
/// # Errors
/// [`SigningError::Encode`] if the action does not serialise.
pub fn action_hash<A: Serialize + ?Sized>(
    action: &A,
    nonce: u64,
    vault: Option<Address>,
) -> Result<B256, SigningError> {
    let mut data =
        rmp_serde::to_vec_named(action).map_err(|e| SigningError::Encode(e.to_string()))?;
    data.extend_from_slice(&nonce.to_be_bytes());
    match vault {
        None => data.push(0),
        Some(addr) => {
            data.push(1);
            data.extend_from_slice(addr.as_slice());
        }
    }
    Ok(keccak256(&data))
}

/// The EIP-712 digest that is signed for `connection_id` on `network`.
pub fn agent_signing_hash(connection_id: B256, network: Network) -> B256 {
    let agent = Agent {
        source: network.source().to_string(),
        connectionId: connection_id,
    };
    agent.eip712_signing_hash(&exchange_domain())
}

/// The digest to sign for an L1 action.
///
/// # Errors
/// [`SigningError::Encode`] if the action does not serialise.
pub fn l1_signing_hash<A: Serialize + ?Sized>(
    action: &A,
    nonce: u64,
    vault: Option<Address>,
    network: Network,
) -> Result<B256, SigningError> {
    Ok(agent_signing_hash(
        action_hash(action, nonce, vault)?,
        network,
    ))
}

/// The address that signed `signature` over an L1 action (what the venue recovers).
///
/// # Errors
/// [`SigningError`] for an unencodable action or a malformed signature.
pub fn recover_l1_signer<A: Serialize + ?Sized>(
    action: &A,
    nonce: u64,
    vault: Option<Address>,
    network: Network,
    signature: &WireSignature,
) -> Result<Address, SigningError> {
    let digest = l1_signing_hash(action, nonce, vault, network)?;
    let sig = signature_from_wire(signature)?;
    sig.recover_address_from_prehash(&digest)
        .map_err(|e| SigningError::Signature(e.to_string()))
}

/// `{r, s, v}` as `/exchange` takes them: 0x + 64 hex digits each, `v` = 27 | 28.
pub fn signature_to_wire(sig: &Signature) -> WireSignature {
    WireSignature {
        r: format!("0x{:064x}", sig.r()),
        s: format!("0x{:064x}", sig.s()),
        v: 27 + u8::from(sig.v()),
    }
}

/// Parses a wire signature (`r`/`s` with or without leading zeros, as the Python SDK prints
/// them).
///
/// # Errors
/// [`SigningError::Signature`] for bad hex or a `v` other than 27/28 (or 0/1).
pub fn signature_from_wire(w: &WireSignature) -> Result<Signature, SigningError> {
    let parse = |h: &str| {
        let h = h.strip_prefix("0x").unwrap_or(h);
        U256::from_str_radix(h, 16).map_err(|e| SigningError::Signature(format!("bad hex: {e}")))
    };
    let parity = match w.v {
        27 | 0 => false,
        28 | 1 => true,
        v => return Err(SigningError::Signature(format!("bad v {v}"))),
    };
    Ok(Signature::new(parse(&w.r)?, parse(&w.s)?, parity))
}

/// A secp256k1 key that signs L1 actions. `Debug` shows the address only.
pub struct HyperliquidSigner {
    key: SigningKey,
    address: Address,
}

impl std::fmt::Debug for HyperliquidSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperliquidSigner")
            .field("address", &self.address)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl HyperliquidSigner {
    /// A signer from a hex private key (`0x` optional, surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`SigningError::Key`] if it is not 32 bytes of hex or not a valid secp256k1 scalar. The
    /// message never repeats the input.
    pub fn from_hex(hex: &str) -> Result<Self, SigningError> {
        let h = hex.trim();
        let h = h.strip_prefix("0x").unwrap_or(h);
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SigningError::Key(
                "expected 64 hex digits (32 bytes), optionally prefixed with 0x".into(),
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, chunk) in h.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char).to_digit(16).unwrap_or(0) as u8;
            let lo = (chunk[1] as char).to_digit(16).unwrap_or(0) as u8;
            bytes[i] = (hi << 4) | lo;
        }
        let key = SigningKey::from_slice(bytes.as_slice())
            .map_err(|_| SigningError::Key("not a valid secp256k1 private key".into()))?;
        let address = Address::from_private_key(&key);
        Ok(Self { key, address })
    }

    /// The key from `HYPERLIQUID_PRIVATE_KEY`, else from the file named by
    /// `HYPERLIQUID_KEY_FILE`.
    ///
    /// # Errors
    /// [`SigningError::Key`] when neither is set, the file cannot be read or lies inside a git
    /// checkout, or the key is malformed.
    pub fn from_env() -> Result<Self, SigningError> {
        if let Ok(hex) = std::env::var(KEY_ENV) {
            let hex = Zeroizing::new(hex);
            if !hex.trim().is_empty() {
                return Self::from_hex(&hex);
            }
        }
        match std::env::var_os(KEY_FILE_ENV) {
            Some(path) if !path.is_empty() => Self::from_key_file(Path::new(&path)),
            _ => Err(SigningError::Key(format!(
                "set {KEY_ENV} or {KEY_FILE_ENV} (a file outside the repository)"
            ))),
        }
    }

    /// The key from a file holding its hex. Files inside a git checkout are refused, so a key
    /// cannot end up committed next to the code.
    ///
    /// # Errors
    /// [`SigningError::Key`] as for [`HyperliquidSigner::from_env`].
    pub fn from_key_file(path: &Path) -> Result<Self, SigningError> {
        let canonical = path.canonicalize().map_err(|e| {
            SigningError::Key(format!("cannot open key file {}: {e}", path.display()))
        })?;
        if let Some(repo) = canonical
            .ancestors()
            .skip(1)
            .find(|dir| dir.join(".git").exists())
        {
            return Err(SigningError::Key(format!(
                "key file {} lies inside the git checkout {}; keep keys outside repositories",
                canonical.display(),
                repo.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(&canonical).map_err(|e| {
            SigningError::Key(format!("cannot read key file {}: {e}", canonical.display()))
        })?);
        Self::from_hex(&text)
    }

    /// The address the key controls.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte digest (RFC 6979, low-s), as alloy's `LocalSigner::sign_hash` does.
    ///
    /// # Errors
    /// [`SigningError::Signature`] if secp256k1 signing fails.
    pub fn sign_digest(&self, digest: &B256) -> Result<Signature, SigningError> {
        let (sig, recid): (alloy_signer::k256::ecdsa::Signature, RecoveryId) = self
            .key
            .sign_prehash(digest.as_slice())
            .map_err(|e| SigningError::Signature(e.to_string()))?;
        Ok(Signature::from((sig, recid)))
    }

    /// Signs an L1 action: the wire signature for `/exchange`.
    ///
    /// # Errors
    /// [`SigningError`] if the action does not encode or signing fails.
    pub fn sign_l1_action<A: Serialize + ?Sized>(
        &self,
        action: &A,
        nonce: u64,
        vault: Option<Address>,
        network: Network,
    ) -> Result<WireSignature, SigningError> {
        let digest = l1_signing_hash(action, nonce, vault, network)?;
        Ok(signature_to_wire(&self.sign_digest(&digest)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_and_type_hash_match_the_documented_constants() {
        // docs/external-apis.md §1.5 (recomputed there from the SDK's typed data).
        assert_eq!(
            format!("{:x}", exchange_domain().separator()),
            "d79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040"
        );
        assert_eq!(
            format!(
                "{:x}",
                keccak256("Agent(string source,bytes32 connectionId)")
            ),
            "26f05c2f7239b6983075e58321292d77b3aa173d19b27257ac96ab362570f508"
        );
        let agent = Agent {
            source: "a".into(),
            connectionId: B256::ZERO,
        };
        assert_eq!(
            agent.eip712_type_hash(),
            keccak256("Agent(string source,bytes32 connectionId)")
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let hex = "0123456789012345678901234567890123456789012345678901234567890123";
        let s = HyperliquidSigner::from_hex(hex).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains(hex) && !dbg.contains("01234567890123"));
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn malformed_keys_are_refused_without_echo() {
        let err = HyperliquidSigner::from_hex("0xdeadbeef")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("deadbeef"));
        assert!(HyperliquidSigner::from_hex(&"0".repeat(64)).is_err()); // zero scalar
    }
}
