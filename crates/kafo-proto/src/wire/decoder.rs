//! Incremental decoding of frames from a byte stream cut anywhere.

use super::{DecodeFrameError, Frame, MAX_FRAME_LEN};

/// Turns a byte stream, fed in chunks of any size, into frames.
///
/// Only an incomplete frame is buffered, and the buffer never exceeds the length
/// prefix plus [`MAX_FRAME_LEN`]: an announced length is checked before any byte of
/// the frame is kept. After an error the decoder stays failed.
///
/// ```
/// use kafo_proto::wire::{Frame, FrameDecoder};
///
/// let bytes = Frame::Ack { batch: 7 }.to_bytes();
/// let mut decoder = FrameDecoder::new();
/// let (first, second) = bytes.split_at(3);
/// let mut input = first;
/// assert_eq!(decoder.decode(&mut input), Ok(None));
/// let mut input = second;
/// assert_eq!(decoder.decode(&mut input), Ok(Some(Frame::Ack { batch: 7 })));
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    header: Vec<u8>,
    body: Vec<u8>,
    expected: Option<usize>,
    failed: Option<DecodeFrameError>,
}

impl FrameDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an incomplete frame held.
    pub fn buffered(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// Consumes bytes from the front of `input` until one frame is complete and returns
    /// it, or returns `None` once `input` is empty. Call again while `input` is not empty.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, DecodeFrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.decode_inner(input);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    fn decode_inner(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, DecodeFrameError> {
        let expected = match self.expected {
            Some(expected) => expected,
            None => {
                let need = 4 - self.header.len();
                let take = need.min(input.len());
                self.header.extend_from_slice(&input[..take]);
                *input = &input[take..];
                if self.header.len() < 4 {
                    return Ok(None);
                }
                let mut prefix = [0u8; 4];
                prefix.copy_from_slice(&self.header);
                let len = u32::from_be_bytes(prefix);
                if len == 0 {
                    return Err(DecodeFrameError::EmptyFrame);
                }
                if len > MAX_FRAME_LEN {
                    return Err(DecodeFrameError::FrameTooLarge {
                        len: u64::from(len),
                        max: MAX_FRAME_LEN,
                    });
                }
                self.expected = Some(len as usize);
                len as usize
            }
        };
        // A complete frame in the input, nothing buffered: decode it in place.
        if self.body.is_empty() && input.len() >= expected {
            let (frame, rest) = input.split_at(expected);
            *input = rest;
            self.reset();
            return Frame::decode(frame).map(Some);
        }
        let take = (expected - self.body.len()).min(input.len());
        self.body.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if self.body.len() < expected {
            return Ok(None);
        }
        let body = std::mem::take(&mut self.body);
        self.reset();
        Frame::decode(&body).map(Some)
    }

    fn reset(&mut self) {
        self.header.clear();
        self.body.clear();
        self.expected = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_every_byte_decode_alike() {
        let mut stream = Frame::Ack { batch: 300 }.to_bytes();
        Frame::Done { handled: 2 }.encode(&mut stream);
        for cut in 0..=stream.len() {
            let mut decoder = FrameDecoder::new();
            let mut frames = Vec::new();
            for chunk in [&stream[..cut], &stream[cut..]] {
                let mut input = chunk;
                while !input.is_empty() {
                    if let Some(frame) = decoder.decode(&mut input).expect("valid stream") {
                        frames.push(frame);
                    }
                }
            }
            assert_eq!(
                frames,
                vec![Frame::Ack { batch: 300 }, Frame::Done { handled: 2 }],
                "cut at {cut}"
            );
            assert_eq!(decoder.buffered(), 0);
        }
    }

    #[test]
    fn an_oversized_length_is_refused_before_buffering() {
        let mut decoder = FrameDecoder::new();
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            decoder.decode(&mut input),
            Err(DecodeFrameError::FrameTooLarge { .. })
        ));
        assert_eq!(decoder.buffered(), 4);
        let mut more: &[u8] = &[0; 16];
        assert!(
            decoder.decode(&mut more).is_err(),
            "a failed decoder stays failed"
        );
    }

    #[test]
    fn an_empty_frame_is_an_error() {
        let mut input: &[u8] = &[0, 0, 0, 0];
        assert_eq!(
            FrameDecoder::new().decode(&mut input),
            Err(DecodeFrameError::EmptyFrame)
        );
    }
}
