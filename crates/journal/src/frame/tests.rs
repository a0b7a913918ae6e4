//! Unit tests of the frame format: round trips, the header layout, and each defect a damaged
//! or torn frame is reported as.

use super::*;

fn encoded(sequence: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, sequence, sequence, payload);
    out
}

#[test]
fn round_trips() {
    let bytes = encoded(7, b"hello");
    assert_eq!(bytes.len(), encoded_bytes(5));
    let frame = decode(&bytes).expect("valid frame");
    assert_eq!(
        frame,
        Frame {
            sequence: 7,
            batch_start: 7,
            payload: b"hello"
        }
    );
    assert_eq!(frame.encoded_bytes(), bytes.len());
}

#[test]
fn empty_payload_round_trips() {
    let bytes = encoded(0, b"");
    assert_eq!(decode(&bytes).expect("valid").payload, b"");
}

#[test]
fn header_layout_is_little_endian() {
    let mut bytes = Vec::new();
    encode_into(
        &mut bytes,
        0x0102_0304_0506_0708,
        0x0102_0304_0506_0700,
        b"ab",
    );
    assert_eq!(&bytes[0..4], b"StJ2");
    assert_eq!(&bytes[4..8], &[2, 0, 0, 0]);
    assert_eq!(&bytes[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&bytes[16..24], &[0, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&bytes[28..], b"ab");
    let frame = decode(&bytes).expect("valid");
    assert_eq!(frame.batch_start, 0x0102_0304_0506_0700);
}

#[test]
fn frames_of_one_batch_share_its_start() {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, 5, 5, b"a");
    let second = bytes.len();
    encode_into(&mut bytes, 6, 5, b"b");
    let frame = decode(&bytes[second..]).expect("valid");
    assert_eq!((frame.sequence, frame.batch_start), (6, 5));
}

#[test]
fn checksum_valid_impossible_batch_start_is_a_defect() {
    // Build the frames by hand: `encode_into` refuses them.
    for (sequence, batch_start) in [(3_u64, 4_u64), (MAX_BATCH_RECORDS as u64, 0)] {
        let mut bytes = encoded(sequence, b"x");
        bytes[16..24].copy_from_slice(&batch_start.to_le_bytes());
        let crc = checksum(&bytes[CHECKED_HEADER], b"x");
        bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(FrameDefect::BatchStartOutOfRange {
                sequence,
                batch_start
            })
        );
    }
    let last_of_largest_batch = MAX_BATCH_RECORDS as u64 - 1;
    let mut bytes = Vec::new();
    encode_into(&mut bytes, last_of_largest_batch, 0, b"x");
    assert!(decode(&bytes).is_ok());
}

#[test]
#[should_panic(expected = "batch_start")]
fn encoding_batch_start_after_sequence_panics() {
    encode_into(&mut Vec::new(), 1, 2, b"x");
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut bytes = encoded(1, b"x");
    bytes.extend_from_slice(b"garbage");
    assert_eq!(decode(&bytes).expect("valid").payload, b"x");
}

#[test]
fn short_header_is_reported() {
    let bytes = encoded(1, b"x");
    assert_eq!(
        decode(&bytes[..HEADER_BYTES - 1]),
        Err(FrameDefect::ShortHeader {
            available: HEADER_BYTES - 1
        })
    );
}

#[test]
fn bad_magic_is_reported() {
    let mut bytes = encoded(1, b"x");
    bytes[0] ^= 0xff;
    assert!(matches!(decode(&bytes), Err(FrameDefect::BadMagic { .. })));
    assert!(!starts_with_magic(&bytes));
}

#[test]
fn short_payload_is_reported() {
    let bytes = encoded(1, b"hello");
    assert_eq!(
        decode(&bytes[..HEADER_BYTES + 2]),
        Err(FrameDefect::ShortPayload {
            needed: 5,
            available: 2
        })
    );
}

#[test]
fn oversized_length_is_corrupt_without_reading_payload() {
    let mut bytes = encoded(1, b"x");
    let length = u32::try_from(MAX_RECORD_BYTES + 1).expect("fits");
    bytes[4..8].copy_from_slice(&length.to_le_bytes());
    assert_eq!(decode(&bytes), Err(FrameDefect::LengthTooLarge { length }));
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode(&bytes),
        Err(FrameDefect::LengthTooLarge { .. })
    ));
}

#[test]
fn any_flipped_bit_is_detected() {
    let bytes = encoded(42, b"payload bytes");
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut corrupt = bytes.clone();
            corrupt[index] ^= 1 << bit;
            assert!(
                decode(&corrupt).is_err(),
                "flip of bit {bit} at byte {index} undetected"
            );
        }
    }
}

#[test]
fn maximal_payload_round_trips() {
    let payload = vec![0xa5; MAX_RECORD_BYTES];
    let bytes = encoded(3, &payload);
    assert_eq!(
        decode(&bytes).expect("valid").payload.len(),
        MAX_RECORD_BYTES
    );
}

#[test]
#[should_panic(expected = "exceeds MAX_RECORD_BYTES")]
fn encoding_oversized_payload_panics() {
    encoded(0, &vec![0; MAX_RECORD_BYTES + 1]);
}
