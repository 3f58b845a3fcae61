//! A photo made ready on the resident's device: location, camera and other
//! metadata removed before the bytes are hashed and sent. JPEG keeps only
//! the segments an image needs (JFIF, the colour profile, Adobe's colour
//! transform and the coded image); PNG loses its text, time and EXIF
//! chunks; WebP its EXIF and XMP chunks. The image data itself is copied
//! byte for byte, so nothing is re-encoded.

use anyhow::{bail, Result};
use buurt_protocol::Media;

/// `bytes` without their metadata.
pub fn strip(bytes: &[u8]) -> Result<Vec<u8>> {
    match Media::sniff(bytes) {
        Some(Media::Jpeg) => jpeg(bytes),
        Some(Media::Png) => png(bytes),
        Some(Media::Webp) => webp(bytes),
        None => bail!("not a JPEG, PNG or WebP image"),
    }
}

fn jpeg(b: &[u8]) -> Result<Vec<u8>> {
    let damaged = || anyhow::anyhow!("the JPEG is damaged (a segment runs past its end)");
    let mut out = b[..2].to_vec();
    let mut i = 2;
    while i < b.len() {
        if b[i] != 0xFF {
            return Err(damaged());
        }
        // Fill bytes before a marker.
        while b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let marker = *b.get(i + 1).ok_or_else(damaged)?;
        if marker == 0xDA || marker == 0xD9 {
            // Start of scan (the coded image, to the end) or end of image.
            out.extend_from_slice(&b[i..]);
            return Ok(out);
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            out.extend_from_slice(&b[i..i + 2]);
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([
            *b.get(i + 2).ok_or_else(damaged)?,
            *b.get(i + 3).ok_or_else(damaged)?,
        ]));
        let end = i + 2 + len;
        if len < 2 || end > b.len() {
            return Err(damaged());
        }
        // APP0 (JFIF), APP2 (ICC profile) and APP14 (Adobe) stay; the
        // other APPn (EXIF and XMP in APP1, IPTC in APP13) and comments go.
        let metadata = matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE);
        if !metadata {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
    }
    Ok(out)
}

fn png(b: &[u8]) -> Result<Vec<u8>> {
    let damaged = || anyhow::anyhow!("the PNG is damaged (a chunk runs past its end)");
    let mut out = b[..8].to_vec();
    let mut i = 8;
    while i < b.len() {
        let len = b.get(i..i + 4).ok_or_else(damaged)?;
        let len = u32::from_be_bytes(len.try_into()?) as usize;
        let kind = b.get(i + 4..i + 8).ok_or_else(damaged)?;
        let end = i
            .checked_add(12)
            .and_then(|x| x.checked_add(len))
            .filter(|&e| e <= b.len())
            .ok_or_else(damaged)?;
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME") {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

fn webp(b: &[u8]) -> Result<Vec<u8>> {
    let damaged = || anyhow::anyhow!("the WebP is damaged (a chunk runs past its end)");
    let mut out = b[..12].to_vec();
    let mut i = 12;
    while i < b.len() {
        let kind = b.get(i..i + 4).ok_or_else(damaged)?;
        let len = b.get(i + 4..i + 8).ok_or_else(damaged)?;
        let len = u32::from_le_bytes(len.try_into()?) as usize;
        let end = (i + 8).checked_add(len + (len & 1)).ok_or_else(damaged)?;
        let end = end.min(b.len());
        if i + 8 + len > b.len() {
            return Err(damaged());
        }
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let start = out.len();
                out.extend_from_slice(&b[i..end]);
                // The flags say which chunks follow: no EXIF (bit 3), no
                // XMP (bit 2) any more.
                if let Some(flags) = out.get_mut(start + 8) {
                    *flags &= !0x0C;
                }
            }
            _ => out.extend_from_slice(&b[i..end]),
        }
        i = end;
    }
    let riff = u32::try_from(out.len() - 8)?;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    #[test]
    fn jpeg_loses_exif_and_keeps_the_image() {
        let scan = [0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0xD9];
        let jpeg = [
            vec![0xFF, 0xD8],
            segment(0xE0, b"JFIF\0\x01\x01"),
            segment(0xE1, b"Exif\0\0GPSLatitude 52.36"),
            segment(0xDB, &[0; 65]),
            segment(0xFE, b"a comment"),
            scan.to_vec(),
        ]
        .concat();
        let out = strip(&jpeg).unwrap();
        assert!(!out.windows(4).any(|w| w == b"Exif"));
        assert!(!out.windows(11).any(|w| w == b"GPSLatitude"));
        assert!(out.windows(4).any(|w| w == b"JFIF"));
        assert!(out.ends_with(&scan));
        assert_eq!(out.len(), jpeg.len() - (4 + 23) - (4 + 9));
        assert!(strip(&jpeg[..20]).is_err());
    }

    #[test]
    fn png_and_webp_lose_their_metadata_chunks() {
        let chunk = |kind: &[u8], data: &[u8]| {
            [&(data.len() as u32).to_be_bytes()[..], kind, data, &[0; 4]].concat()
        };
        let png = [
            b"\x89PNG\r\n\x1a\n".to_vec(),
            chunk(b"IHDR", &[0; 13]),
            chunk(b"eXIf", b"GPS here"),
            chunk(b"IDAT", &[1, 2, 3]),
            chunk(b"IEND", &[]),
        ]
        .concat();
        let out = strip(&png).unwrap();
        assert!(!out.windows(3).any(|w| w == b"GPS"));
        assert_eq!(out.len(), png.len() - 20);

        let riff = |kind: &[u8], data: &[u8]| {
            let mut c = [kind, &(data.len() as u32).to_le_bytes()[..], data].concat();
            if data.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let body = [
            riff(b"VP8X", &[0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            riff(b"VP8 ", &[9; 11]),
            riff(b"EXIF", b"GPS here"),
            riff(b"XMP ", b"<x>GPS</x>"),
        ]
        .concat();
        let webp = [
            b"RIFF",
            &((body.len() + 4) as u32).to_le_bytes()[..],
            b"WEBP",
            &body,
        ]
        .concat();
        let out = strip(&webp).unwrap();
        assert!(!out.windows(3).any(|w| w == b"GPS"));
        assert_eq!(out[12 + 8], 0, "the EXIF and XMP flags are cleared");
        assert_eq!(
            u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
            out.len() - 8
        );
    }
}
