//! Names as they are found in Bamako: family names by group (Bambara, Malinké,
//! Peul, Soninké, Sonrhaï and others), given names both group-specific and
//! common across Mali, and the city's health areas.

use rand::Rng;

use crate::random::{pick, weighted};

/// Health areas (aires de santé / quartiers) of Bamako, in the order
/// [`crate::GeneratorConfig::bamako_areas`] takes them.
pub const BAMAKO_AREAS: [&str; 16] = [
    "sikoro",
    "sirakoro",
    "banconi",
    "djelibougou",
    "boulkassoumbougou",
    "sabalibougou",
    "niamakoro",
    "magnambougou",
    "lafiabougou",
    "hamdallaye",
    "bagadadji",
    "kalaban-coura",
    "faladie",
    "sebenikoro",
    "missabougou",
    "yirimadio",
];

/// A group whose family and given names go together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Bambara,
    Malinke,
    Peul,
    Soninke,
    Sonrhai,
}

/// How common each group is among the households of the generated areas.
const GROUPS: [(Group, u32); 5] = [
    (Group::Bambara, 45),
    (Group::Malinke, 17),
    (Group::Peul, 17),
    (Group::Soninke, 12),
    (Group::Sonrhai, 9),
];

const COMMON_MALE: &[&str] = &[
    "Mamadou",
    "Moussa",
    "Oumar",
    "Ibrahim",
    "Abdoulaye",
    "Amadou",
    "Boubacar",
    "Souleymane",
    "Issa",
    "Adama",
    "Ousmane",
    "Youssouf",
    "Seydou",
    "Daouda",
    "Lamine",
    "Modibo",
    "Bakary",
    "Cheick",
    "Aliou",
    "Sidi",
];

const COMMON_FEMALE: &[&str] = &[
    "Aminata",
    "Fatoumata",
    "Mariam",
    "Awa",
    "Kadiatou",
    "Hawa",
    "Oumou",
    "Safiatou",
    "Salimata",
    "Djeneba",
    "Aïssata",
    "Ramata",
    "Maïmouna",
    "Bintou",
    "Kadidia",
    "Assitan",
    "Nana",
    "Mamou",
    "Fanta",
    "Rokia",
];

impl Group {
    /// A household's group, drawn by how common it is.
    pub(crate) fn draw(rng: &mut impl Rng) -> Self {
        weighted(rng, &GROUPS)
    }

    /// A family name of this group.
    pub(crate) fn family_name(self, rng: &mut impl Rng) -> String {
        pick(rng, self.family_names()).to_owned()
    }

    /// A given name for a person of this group and sex: often a group name,
    /// otherwise one common to all of Mali.
    pub(crate) fn given_name(self, rng: &mut impl Rng, female: bool) -> String {
        let name = match (rng.random_bool(0.55), female) {
            (true, true) => pick(rng, self.female_names()),
            (true, false) => pick(rng, self.male_names()),
            (false, true) => pick(rng, COMMON_FEMALE),
            (false, false) => pick(rng, COMMON_MALE),
        };
        name.to_owned()
    }

    fn family_names(self) -> &'static [&'static str] {
        match self {
            Self::Bambara => &[
                "Traoré",
                "Coulibaly",
                "Diarra",
                "Samaké",
                "Dembélé",
                "Ballo",
                "Fané",
                "Bagayoko",
                "Togola",
                "Koné",
                "Mariko",
                "Niaré",
                "Dao",
                "Kané",
                "Tangara",
                "Sanogo",
                "Diakité",
                "Berthé",
                "Kamaté",
                "Konaré",
            ],
            Self::Malinke => &[
                "Keita",
                "Konaté",
                "Camara",
                "Kanté",
                "Sissoko",
                "Kouyaté",
                "Diabaté",
                "Doumbia",
                "Cissoko",
                "Kamissoko",
                "Magassa",
                "Fofana",
            ],
            Self::Peul => &[
                "Diallo", "Sidibé", "Sangaré", "Bah", "Barry", "Sow", "Dicko", "Diakité", "Tall",
                "Cissé", "Boly", "Bary",
            ],
            Self::Soninke => &[
                "Cissé",
                "Touré",
                "Sylla",
                "Doucouré",
                "Sacko",
                "Tounkara",
                "Soumaré",
                "Dramé",
                "Bathily",
                "Kanouté",
                "Sakho",
                "Diawara",
            ],
            Self::Sonrhai => &[
                "Maïga", "Touré", "Haïdara", "Guindo", "Dolo", "Cissé", "Yattara", "Tapo",
            ],
        }
    }

    fn male_names(self) -> &'static [&'static str] {
        match self {
            Self::Bambara | Self::Malinke => &[
                "Drissa",
                "Siaka",
                "Yacouba",
                "Tiemoko",
                "Madou",
                "Lassina",
                "Sékou",
                "Bréhima",
                "Zoumana",
                "Nouhoum",
                "Mamoutou",
                "Dramane",
                "Bourama",
                "Fousseyni",
                "Karim",
                "Sidiki",
                "Salif",
                "Sory",
                "Kassoum",
                "Alou",
                "Makan",
                "Mahamadou",
                "Fodé",
                "Soumaïla",
                "Bakary",
                "Namory",
            ],
            Self::Peul => &[
                "Hamadoun",
                "Allaye",
                "Samba",
                "Demba",
                "Hamidou",
                "Bocar",
                "Aly",
                "Abdramane",
                "Amadou",
                "Boubacar",
                "Sambourou",
                "Hama",
            ],
            Self::Soninke => &[
                "Makan",
                "Demba",
                "Samba",
                "Diadié",
                "Hamala",
                "Sambou",
                "Mamadou",
                "Sékou",
                "Bandiougou",
                "Kissima",
            ],
            Self::Sonrhai => &[
                "Alassane",
                "Hamma",
                "Almoustapha",
                "Mahamane",
                "Garba",
                "Abdoulaye",
                "Arouna",
                "Hamadou",
            ],
        }
    }

    fn female_names(self) -> &'static [&'static str] {
        match self {
            Self::Bambara | Self::Malinke => &[
                "Sitan",
                "Korotoumou",
                "Tenin",
                "Massitan",
                "Mah",
                "Sata",
                "Niakalé",
                "Kani",
                "Sanata",
                "Batoma",
                "Diaka",
                "Worokia",
                "Nassira",
                "Sira",
                "Djélika",
                "Fanta",
                "Rokia",
                "Assitan",
                "Mamou",
                "Nana",
                "Oumou",
            ],
            Self::Peul => &[
                "Coumba",
                "Dado",
                "Kadiatou",
                "Hadja",
                "Fatimata",
                "Aïssata",
                "Oumou",
                "Diénéba",
                "Tata",
                "Penda",
            ],
            Self::Soninke => &[
                "Coumba", "Dado", "Fanta", "Sira", "Salimata", "Yaye", "Mariam", "Kadiatou",
                "Goundo", "Hawa",
            ],
            Self::Sonrhai => &[
                "Haoua", "Mariama", "Zeinabou", "Aïssa", "Fadimata", "Raki", "Fatouma", "Lalla",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_names_and_areas_are_valid_ids() {
        for (group, _) in GROUPS {
            assert!(!group.family_names().is_empty());
            assert!(!group.male_names().is_empty());
            assert!(!group.female_names().is_empty());
        }
        for area in BAMAKO_AREAS {
            assert!(kafo_model::AreaId::parse(area).is_ok(), "{area}");
        }
    }
}
