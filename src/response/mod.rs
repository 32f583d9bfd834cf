//! Transform response: what the backend said, restated in the client's terms (plaintext sizes, client ETags,
//! the gateway's own objects hidden).

pub mod listing;
