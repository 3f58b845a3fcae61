//! A stemming token filter that remembers its answers.
//!
//! Listings repeat a small vocabulary, and every text is stemmed for two
//! languages (Dutch twice, see `schema::dutch_analyzer`), so most stems are
//! asked for again and again. The filter keeps `word -> stem` for the words
//! it has seen; a cache hit costs one hash look-up instead of up to two
//! Snowball runs. The answers are exactly the stemmer's: the cache only
//! remembers them.

use std::collections::HashMap;

use frostem::Algorithm;
use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Most words remembered by one analyzer; the cache is cleared when full.
const CACHE_MAX: usize = 20_000;

/// Runs a Snowball stemmer `passes` times over each token, caching results.
#[derive(Clone)]
pub(crate) struct CachedStemmer {
    algorithm: Algorithm,
    passes: u8,
}

impl CachedStemmer {
    pub(crate) fn dutch_twice() -> CachedStemmer {
        CachedStemmer {
            algorithm: Algorithm::Dutch,
            passes: 2,
        }
    }

    pub(crate) fn english() -> CachedStemmer {
        CachedStemmer {
            algorithm: Algorithm::English,
            passes: 1,
        }
    }
}

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            stemmer: frostem::Stemmer::new(self.algorithm),
            passes: self.passes,
            cache: HashMap::new(),
            inner,
        }
    }
}

#[derive(Clone)]
pub(crate) struct CachedStemmerFilter<T> {
    stemmer: frostem::Stemmer,
    passes: u8,
    /// Owned by this analyzer instance (tantivy clones one per field and
    /// segment writer), so no lock is needed.
    cache: HashMap<String, String>,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            stemmer: self.stemmer,
            passes: self.passes,
            cache: &mut self.cache,
        }
    }
}

pub(crate) struct CachedStemmerStream<'a, T> {
    tail: T,
    stemmer: frostem::Stemmer,
    passes: u8,
    cache: &'a mut HashMap<String, String>,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(stem) = self.cache.get(&token.text) {
            token.text.clear();
            token.text.push_str(stem);
            return true;
        }
        let mut stem = token.text.clone();
        for _ in 0..self.passes {
            stem = self.stemmer.stem(&stem).into_owned();
        }
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        let word = std::mem::replace(&mut token.text, stem.clone());
        self.cache.insert(word, stem);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{
        Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer, TokenStream,
    };

    use super::CachedStemmer;

    fn tokens(a: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    /// The cache changes nothing: the same words, asked twice, give what
    /// tantivy's own stemmer gives.
    #[test]
    fn same_stems_as_the_plain_stemmer_also_from_the_cache() {
        let text = "Fietsen fiets kinderwagens kinderwagen boormachine boormachines \
                    ladders ladder drilling drills lawnmowers running the a";
        let mut cached_nl = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CachedStemmer::dutch_twice())
            .build();
        let mut plain_nl = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::Dutch))
            .filter(Stemmer::new(Language::Dutch))
            .build();
        let mut cached_en = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CachedStemmer::english())
            .build();
        let mut plain_en = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        for _ in 0..2 {
            assert_eq!(tokens(&mut cached_nl, text), tokens(&mut plain_nl, text));
            assert_eq!(tokens(&mut cached_en, text), tokens(&mut plain_en, text));
        }
        // A word and its plural meet (why Dutch is stemmed twice).
        let pair = tokens(&mut cached_nl, "fietsen fiets");
        assert_eq!(pair[0], pair[1]);
    }
}
