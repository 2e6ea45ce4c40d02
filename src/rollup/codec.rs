//! The compact byte encodings of rollup values (login summaries, a month's
//! login times): LEB128 varints, and a reader that fails on truncation
//! instead of panicking.

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a signed value (zigzag, then varint).
pub fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads what [`put_varint`] and [`put_signed`] wrote.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub fn varint(&mut self) -> anyhow::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or_else(|| anyhow::anyhow!("a stored rollup value is cut short"))?;
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        anyhow::bail!("a stored rollup value holds an over-long number")
    }

    pub fn signed(&mut self) -> anyhow::Result<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let bytes = self
            .bytes
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| anyhow::anyhow!("a stored rollup value is cut short"))?;
        self.pos += n;
        Ok(bytes)
    }

    /// A count of items that follow, each at least one byte long: more
    /// than the bytes left means the value is corrupt.
    pub fn count(&mut self) -> anyhow::Result<usize> {
        let n = self.varint()?;
        anyhow::ensure!(
            n <= (self.bytes.len() - self.pos) as u64,
            "a stored rollup value announces more items than it holds"
        );
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        let mut out = Vec::new();
        let values = [0i64, 1, -1, 63, -64, 1 << 40, i64::MAX, i64::MIN];
        for v in values {
            put_signed(&mut out, v);
        }
        put_varint(&mut out, u64::MAX);
        let mut r = Reader::new(&out);
        for v in values {
            assert_eq!(r.signed().unwrap(), v);
        }
        assert_eq!(r.varint().unwrap(), u64::MAX);
        assert!(r.is_empty());
        assert!(Reader::new(&[0x80]).varint().is_err(), "cut short");
    }
}
