package store

// compatKeysVersion is the schema version of the migration that puts every
// claimed name under NameKey as it is now, NFKC_Casefold (migration 9, in
// Go as migration 7 is). SQL migrations after it are numbered from 10.
const compatKeysVersion = 9

// nameKeys9 is migration 9: from migration 7 on a name was claimed under
// composedNameKey, which is not the name's key when NFKC gives a letter a
// case after the folding ("Acme™" under "acmeTM", so "AcmeTM", under
// "acmetm", could be claimed by another account and a search for "acmetm"
// missed it), nor for a Cherokee name, which golang.org/x/text folds to
// the other case. An account left by migration 7 under foldedNameKey, or
// claimed so since by a node older than migration 7, gets NameKey too,
// unless another account holds it.
var nameKeys9 = rekeying{
	key:       NameKey,
	own:       composedNameKey,
	collision: "store: two accounts claimed one name in two spellings before names were compared after NFKC_Casefold; one keeps the name's key, the other the key of its own spelling, by which it still logs in",
}
