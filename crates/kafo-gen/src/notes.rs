//! Free-text notes in French, as CHWs in Bamako write them, chosen to fit
//! what happened at the visit.

use rand::Rng;

use crate::random::pick;

/// What a note is about, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    UrgentReferral,
    Referral,
    SevereMalnutrition,
    ModerateMalnutrition,
    Vaccination,
    Fever,
    Diarrhoea,
    Cough,
    SickChild,
    Newborn,
    Postnatal,
    Antenatal,
    PregnancyDanger,
    Growth,
    YoungInfant,
    Routine,
    AdultRoutine,
}

impl Topic {
    fn notes(self) -> &'static [&'static str] {
        match self {
            Self::UrgentReferral => &[
                "Référence urgente au CSCom, transport organisé par la famille.",
                "Enfant accompagné au CSCom par l'ASC, fiche de référence remplie.",
                "Référée en urgence, le chef de famille a donné son accord.",
                "Signe de danger, référence immédiate. Revoir après le retour du CSCom.",
            ],
            Self::Referral => &[
                "Référé au CSCom, la mère a accepté.",
                "Fiche de référence remise, suivi prévu dans trois jours.",
                "Référence conseillée, la famille ira demain matin.",
            ],
            Self::SevereMalnutrition => &[
                "PB en zone rouge, référé à l'URENAS du CSCom.",
                "Malnutrition aiguë sévère, ATPE à recevoir au CSCom.",
                "Œdèmes recherchés, absents. Référé pour prise en charge.",
            ],
            Self::ModerateMalnutrition => &[
                "PB en zone jaune, conseils nutritionnels donnés.",
                "Malnutrition modérée, inscrit au programme de supplémentation.",
                "Bouillie enrichie expliquée à la mère, revoir dans deux semaines.",
            ],
            Self::Vaccination => &[
                "Carnet de vaccination vérifié.",
                "Vaccins à jour selon le carnet.",
                "Rappel du prochain rendez-vous de vaccination.",
                "Vaccination faite au CSCom, carnet vu.",
                "Mère encouragée à respecter le calendrier du PEV.",
            ],
            Self::Fever => &[
                "Fièvre depuis deux jours, TDR fait.",
                "TDR positif, CTA donnée, revoir dans trois jours.",
                "TDR négatif, paracétamol donné.",
                "Corps chaud depuis hier soir, TDR fait, moustiquaire conseillée.",
            ],
            Self::Diarrhoea => &[
                "SRO et zinc donnés.",
                "Diarrhée depuis trois jours, SRO préparé avec la mère.",
                "Conseils d'hygiène et de lavage des mains.",
            ],
            Self::Cough => &[
                "Toux et respiration rapide, amoxicilline donnée.",
                "Respiration comptée : rapide. Amoxicilline pour cinq jours.",
            ],
            Self::SickChild => &[
                "Enfant malade vu à domicile, revoir dans deux jours.",
                "Mère conseillée de continuer l'allaitement pendant la maladie.",
                "Enfant fatigué, surveillance à domicile expliquée.",
            ],
            Self::Newborn => &[
                "Cordon propre et sec.",
                "Bébé tète bien, garder au chaud.",
                "Allaitement commencé dans l'heure après la naissance.",
                "Nouveau-né vu à domicile, pas de signe de danger.",
            ],
            Self::Postnatal => &[
                "Mère et bébé en bonne santé.",
                "Consultation postnatale rappelée au CSCom.",
                "Planification familiale discutée avec le couple.",
                "Saignements normaux, la mère se repose.",
            ],
            Self::Antenatal => &[
                "Visite prénatale rappelée au CSCom.",
                "CPN faite au CSCom, carte vue.",
                "Fer et acide folique pris régulièrement.",
                "Moustiquaire imprégnée remise.",
                "Plan d'accouchement discuté avec le mari.",
                "Signes de danger de la grossesse expliqués.",
            ],
            Self::PregnancyDanger => &[
                "Saignements signalés, référence urgente.",
                "Femme enceinte avec fièvre, référée au CSCom.",
            ],
            Self::Growth => &[
                "Enfant souriant, mange bien.",
                "Conseils nutritionnels donnés à la famille.",
                "Courbe de poids en hausse.",
                "Prise de poids insuffisante, revoir dans deux semaines.",
                "Vitamine A et déparasitage donnés.",
                "Diversification alimentaire expliquée à la mère.",
            ],
            Self::YoungInfant => &[
                "Mère conseillée sur l'allaitement exclusif.",
                "Allaitement exclusif jusqu'à six mois rappelé.",
                "Bébé tète bien, pas de signe de danger.",
            ],
            Self::Routine => &[
                "Moustiquaire vue et utilisée.",
                "Lavage des mains expliqué.",
                "Personne absente, revoir la semaine prochaine.",
                "Famille informée de la campagne de vaccination.",
                "Eau de boisson traitée, bidon couvert.",
                "Latrine propre, conseils d'hygiène donnés.",
                "Campagne de chimioprévention du paludisme annoncée.",
            ],
            Self::AdultRoutine => &[
                "Tension à contrôler au CSCom.",
                "Toux depuis plus de deux semaines, orienté vers le CSCom.",
                "Planification familiale discutée.",
                "Moustiquaire vue et utilisée.",
                "Personne absente, revoir la semaine prochaine.",
                "Rappel de la visite de contrôle au CSCom.",
            ],
        }
    }
}

/// A note about `topic`; now and then two sentences, the second about `also`.
pub(crate) fn note(rng: &mut impl Rng, topic: Topic, also: Topic) -> String {
    let first = pick(rng, topic.notes());
    if rng.random_bool(0.12) {
        let second = pick(rng, also.notes());
        if second != first {
            return format!("{first} {second}");
        }
    }
    first.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_notes_within_the_format_limit() {
        use Topic::*;
        for topic in [
            UrgentReferral,
            Referral,
            SevereMalnutrition,
            ModerateMalnutrition,
            Vaccination,
            Fever,
            Diarrhoea,
            Cough,
            SickChild,
            Newborn,
            Postnatal,
            Antenatal,
            PregnancyDanger,
            Growth,
            YoungInfant,
            Routine,
            AdultRoutine,
        ] {
            assert!(!topic.notes().is_empty());
            assert!(topic.notes().iter().all(|note| note.chars().count() < 1000));
        }
    }
}
