/*
 * sop_class.c: the storage SOP classes sluice knows, by exact UID, each with
 * what it means for burned-in text, and the decision dicom.c takes from it.
 *
 * The UIDs and names are those of PS3.6 Annex A (Registry of DICOM Unique
 * Identifiers), type "SOP Class", for the Storage Service Class of PS3.4
 * Annex B (Table B.5-1, Standard SOP Classes), with the classes PS3.6 lists
 * as retired (an archive still holds them) and the few DCMTK knows from
 * draft supplements; cross-checked against DCMTK 3.6.7's dcuid.h.  Not
 * listed: the DICOS and DICONDE classes (security and industrial
 * inspection, not medical) and classes newer than that edition: they take
 * the rule for unknown classes below.
 *
 * UIDs are compared whole, never by prefix: "1.2.840.10008.5.1.4.1.1.6"
 * (ultrasound, retired) is a string prefix of "...1.1.66.4" (segmentation)
 * and "...1.1.7" (secondary capture) of "...1.1.77.1.6" (whole slide
 * microscopy), yet neither is the other's parent in the UID tree.
 *
 * PRONE: images that devices commonly make with patient details drawn into
 * the pixels, so that only Burned In Annotation (0028,0301) NO clears them:
 * ultrasound (the scanner's screen, name and date in the header band),
 * secondary capture (screen shots, scanned documents), endoscopy and video
 * (the tower's overlay), visible-light photographs (name bands and labels
 * in view), printed film.  PS3.15 E.1.1 leaves this judgement to the
 * de-identifier; the classes are those where it is known to fail.
 * ATTR: every other class, rejected only when Burned In Annotation is YES.
 * Burned In Annotation YES is rejected whatever the class (dicom.c).
 */
#include "dicom_impl.h"
#include <string.h>

#define P "1.2.840.10008.5.1.1."       /* print management (retired) */
#define R "1.2.840.10008.5.1.4."       /* RT delivery, hanging protocols, palettes, implants */
#define C "1.2.840.10008.5.1.4.1.1."   /* composite image and document storage */
#define PRONE DCM_BI_PRONE
#define ATTR DCM_BI_ATTRIBUTE

static const struct dcm_sop_class classes[] = {
	{P "27", "Stored Print Storage (Retired)", ATTR},
	{P "29", "Hardcopy Grayscale Image Storage (Retired)", PRONE},
	{P "30", "Hardcopy Color Image Storage (Retired)", PRONE},
	{C "1", "Computed Radiography Image Storage", ATTR},
	{C "1.1", "Digital X-Ray Image Storage For Presentation", ATTR},
	{C "1.1.1", "Digital X-Ray Image Storage For Processing", ATTR},
	{C "1.2", "Digital Mammography X-Ray Image Storage For Presentation", ATTR},
	{C "1.2.1", "Digital Mammography X-Ray Image Storage For Processing", ATTR},
	{C "1.3", "Digital Intra-Oral X-Ray Image Storage For Presentation", ATTR},
	{C "1.3.1", "Digital Intra-Oral X-Ray Image Storage For Processing", ATTR},
	{C "2", "CT Image Storage", ATTR},
	{C "2.1", "Enhanced CT Image Storage", ATTR},
	{C "2.2", "Legacy Converted Enhanced CT Image Storage", ATTR},
	{C "3", "Ultrasound Multi-frame Image Storage (Retired)", PRONE},
	{C "3.1", "Ultrasound Multi-frame Image Storage", PRONE},
	{C "4", "MR Image Storage", ATTR},
	{C "4.1", "Enhanced MR Image Storage", ATTR},
	{C "4.2", "MR Spectroscopy Storage", ATTR},
	{C "4.3", "Enhanced MR Color Image Storage", ATTR},
	{C "4.4", "Legacy Converted Enhanced MR Image Storage", ATTR},
	{C "5", "Nuclear Medicine Image Storage (Retired)", ATTR},
	{C "6", "Ultrasound Image Storage (Retired)", PRONE},
	{C "6.1", "Ultrasound Image Storage", PRONE},
	{C "6.2", "Enhanced US Volume Storage", PRONE},
	{C "7", "Secondary Capture Image Storage", PRONE},
	{C "7.1", "Multi-frame Single Bit Secondary Capture Image Storage", PRONE},
	{C "7.2", "Multi-frame Grayscale Byte Secondary Capture Image Storage", PRONE},
	{C "7.3", "Multi-frame Grayscale Word Secondary Capture Image Storage", PRONE},
	{C "7.4", "Multi-frame True Color Secondary Capture Image Storage", PRONE},
	{C "8", "Standalone Overlay Storage (Retired)", ATTR},
	{C "9", "Standalone Curve Storage (Retired)", ATTR},
	{C "9.1", "Waveform Storage (draft)", ATTR},
	{C "9.1.1", "12-lead ECG Waveform Storage", ATTR},
	{C "9.1.2", "General ECG Waveform Storage", ATTR},
	{C "9.1.3", "Ambulatory ECG Waveform Storage", ATTR},
	{C "9.2.1", "Hemodynamic Waveform Storage", ATTR},
	{C "9.3.1", "Cardiac Electrophysiology Waveform Storage", ATTR},
	{C "9.4.1", "Basic Voice Audio Waveform Storage", ATTR},
	{C "9.4.2", "General Audio Waveform Storage", ATTR},
	{C "9.5.1", "Arterial Pulse Waveform Storage", ATTR},
	{C "9.6.1", "Respiratory Waveform Storage", ATTR},
	{C "9.6.2", "Multichannel Respiratory Waveform Storage", ATTR},
	{C "9.7.1", "Routine Scalp Electroencephalogram Waveform Storage", ATTR},
	{C "9.7.2", "Electromyogram Waveform Storage", ATTR},
	{C "9.7.3", "Electrooculogram Waveform Storage", ATTR},
	{C "9.7.4", "Sleep Electroencephalogram Waveform Storage", ATTR},
	{C "9.8.1", "Body Position Waveform Storage", ATTR},
	{C "10", "Standalone Modality LUT Storage (Retired)", ATTR},
	{C "11", "Standalone VOI LUT Storage (Retired)", ATTR},
	{C "11.1", "Grayscale Softcopy Presentation State Storage", ATTR},
	{C "11.2", "Color Softcopy Presentation State Storage", ATTR},
	{C "11.3", "Pseudo Color Softcopy Presentation State Storage", ATTR},
	{C "11.4", "Blending Softcopy Presentation State Storage", ATTR},
	{C "11.5", "XA/XRF Grayscale Softcopy Presentation State Storage", ATTR},
	{C "11.6", "Grayscale Planar MPR Volumetric Presentation State Storage", ATTR},
	{C "11.7", "Compositing Planar MPR Volumetric Presentation State Storage", ATTR},
	{C "11.8", "Advanced Blending Presentation State Storage", ATTR},
	{C "11.9", "Volume Rendering Volumetric Presentation State Storage", ATTR},
	{C "11.10", "Segmented Volume Rendering Volumetric Presentation State Storage", ATTR},
	{C "11.11", "Multiple Volume Rendering Volumetric Presentation State Storage", ATTR},
	{C "12.1", "X-Ray Angiographic Image Storage", ATTR},
	{C "12.1.1", "Enhanced XA Image Storage", ATTR},
	{C "12.2", "X-Ray Radiofluoroscopic Image Storage", ATTR},
	{C "12.2.1", "Enhanced XRF Image Storage", ATTR},
	{C "12.3", "X-Ray Angiographic Bi-Plane Image Storage (Retired)", ATTR},
	{C "13.1.1", "X-Ray 3D Angiographic Image Storage", ATTR},
	{C "13.1.2", "X-Ray 3D Craniofacial Image Storage", ATTR},
	{C "13.1.3", "Breast Tomosynthesis Image Storage", ATTR},
	{C "13.1.4", "Breast Projection X-Ray Image Storage For Presentation", ATTR},
	{C "13.1.5", "Breast Projection X-Ray Image Storage For Processing", ATTR},
	{C "14.1", "Intravascular Optical Coherence Tomography Image Storage For Presentation", ATTR},
	{C "14.2", "Intravascular Optical Coherence Tomography Image Storage For Processing", ATTR},
	{C "20", "Nuclear Medicine Image Storage", ATTR},
	{C "30", "Parametric Map Storage", ATTR},
	{C "66", "Raw Data Storage", ATTR},
	{C "66.1", "Spatial Registration Storage", ATTR},
	{C "66.2", "Spatial Fiducials Storage", ATTR},
	{C "66.3", "Deformable Spatial Registration Storage", ATTR},
	{C "66.4", "Segmentation Storage", ATTR},
	{C "66.5", "Surface Segmentation Storage", ATTR},
	{C "66.6", "Tractography Results Storage", ATTR},
	{C "67", "Real World Value Mapping Storage", ATTR},
	{C "68.1", "Surface Scan Mesh Storage", ATTR},
	{C "68.2", "Surface Scan Point Cloud Storage", ATTR},
	{C "77.1", "VL Image Storage (Retired)", PRONE},
	{C "77.1.1", "VL Endoscopic Image Storage", PRONE},
	{C "77.1.1.1", "Video Endoscopic Image Storage", PRONE},
	{C "77.1.2", "VL Microscopic Image Storage", ATTR},
	{C "77.1.2.1", "Video Microscopic Image Storage", ATTR},
	{C "77.1.3", "VL Slide Coordinates Microscopic Image Storage", ATTR},
	{C "77.1.4", "VL Photographic Image Storage", PRONE},
	{C "77.1.4.1", "Video Photographic Image Storage", PRONE},
	{C "77.1.5.1", "Ophthalmic Photography 8 Bit Image Storage", ATTR},
	{C "77.1.5.2", "Ophthalmic Photography 16 Bit Image Storage", ATTR},
	{C "77.1.5.3", "Stereometric Relationship Storage", ATTR},
	{C "77.1.5.4", "Ophthalmic Tomography Image Storage", ATTR},
	{C "77.1.5.5", "Wide Field Ophthalmic Photography Stereographic Projection Image Storage", ATTR},
	{C "77.1.5.6", "Wide Field Ophthalmic Photography 3D Coordinates Image Storage", ATTR},
	{C "77.1.5.7", "Ophthalmic Optical Coherence Tomography En Face Image Storage", ATTR},
	{C "77.1.5.8", "Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage", ATTR},
	{C "77.1.6", "VL Whole Slide Microscopy Image Storage", ATTR},
	{C "77.1.7", "Dermoscopic Photography Image Storage", ATTR},
	{C "77.2", "VL Multi-frame Image Storage (Retired)", PRONE},
	{C "78.1", "Lensometry Measurements Storage", ATTR},
	{C "78.2", "Autorefraction Measurements Storage", ATTR},
	{C "78.3", "Keratometry Measurements Storage", ATTR},
	{C "78.4", "Subjective Refraction Measurements Storage", ATTR},
	{C "78.5", "Visual Acuity Measurements Storage", ATTR},
	{C "78.6", "Spectacle Prescription Report Storage", ATTR},
	{C "78.7", "Ophthalmic Axial Measurements Storage", ATTR},
	{C "78.8", "Intraocular Lens Calculations Storage", ATTR},
	{C "79.1", "Macular Grid Thickness And Volume Report Storage", ATTR},
	{C "80.1", "Ophthalmic Visual Field Static Perimetry Measurements Storage", ATTR},
	{C "81.1", "Ophthalmic Thickness Map Storage", ATTR},
	{C "82.1", "Corneal Topography Map Storage", ATTR},
	{C "88.1", "SR Text Storage (draft)", ATTR},
	{C "88.2", "SR Audio Storage (draft)", ATTR},
	{C "88.3", "SR Detail Storage (draft)", ATTR},
	{C "88.4", "SR Comprehensive Storage (draft)", ATTR},
	{C "88.11", "Basic Text SR Storage", ATTR},
	{C "88.22", "Enhanced SR Storage", ATTR},
	{C "88.33", "Comprehensive SR Storage", ATTR},
	{C "88.34", "Comprehensive 3D SR Storage", ATTR},
	{C "88.35", "Extensible SR Storage", ATTR},
	{C "88.40", "Procedure Log Storage", ATTR},
	{C "88.50", "Mammography CAD SR Storage", ATTR},
	{C "88.59", "Key Object Selection Document Storage", ATTR},
	{C "88.65", "Chest CAD SR Storage", ATTR},
	{C "88.67", "X-Ray Radiation Dose SR Storage", ATTR},
	{C "88.68", "Radiopharmaceutical Radiation Dose SR Storage", ATTR},
	{C "88.69", "Colon CAD SR Storage", ATTR},
	{C "88.70", "Implantation Plan SR Document Storage", ATTR},
	{C "88.71", "Acquisition Context SR Storage", ATTR},
	{C "88.72", "Simplified Adult Echo SR Storage", ATTR},
	{C "88.73", "Patient Radiation Dose SR Storage", ATTR},
	{C "88.74", "Planned Imaging Agent Administration SR Storage", ATTR},
	{C "88.75", "Performed Imaging Agent Administration SR Storage", ATTR},
	{C "88.76", "Enhanced X-Ray Radiation Dose SR Storage", ATTR},
	{C "90.1", "Content Assessment Results Storage", ATTR},
	{C "91.1", "Microscopy Bulk Simple Annotations Storage", ATTR},
	{C "104.1", "Encapsulated PDF Storage", ATTR},
	{C "104.2", "Encapsulated CDA Storage", ATTR},
	{C "104.3", "Encapsulated STL Storage", ATTR},
	{C "104.4", "Encapsulated OBJ Storage", ATTR},
	{C "104.5", "Encapsulated MTL Storage", ATTR},
	{C "128", "Positron Emission Tomography Image Storage", ATTR},
	{C "128.1", "Legacy Converted Enhanced PET Image Storage", ATTR},
	{C "129", "Standalone PET Curve Storage (Retired)", ATTR},
	{C "130", "Enhanced PET Image Storage", ATTR},
	{C "131", "Basic Structured Display Storage", ATTR},
	{C "200.1", "CT Defined Procedure Protocol Storage", ATTR},
	{C "200.2", "CT Performed Procedure Protocol Storage", ATTR},
	{C "200.3", "Protocol Approval Storage", ATTR},
	{C "200.7", "XA Defined Procedure Protocol Storage", ATTR},
	{C "200.8", "XA Performed Procedure Protocol Storage", ATTR},
	{C "481.1", "RT Image Storage", ATTR},
	{C "481.2", "RT Dose Storage", ATTR},
	{C "481.3", "RT Structure Set Storage", ATTR},
	{C "481.4", "RT Beams Treatment Record Storage", ATTR},
	{C "481.5", "RT Plan Storage", ATTR},
	{C "481.6", "RT Brachy Treatment Record Storage", ATTR},
	{C "481.7", "RT Treatment Summary Record Storage", ATTR},
	{C "481.8", "RT Ion Plan Storage", ATTR},
	{C "481.9", "RT Ion Beams Treatment Record Storage", ATTR},
	{C "481.10", "RT Physician Intent Storage", ATTR},
	{C "481.11", "RT Segment Annotation Storage", ATTR},
	{C "481.12", "RT Radiation Set Storage", ATTR},
	{C "481.13", "C-Arm Photon Electron Radiation Storage", ATTR},
	{C "481.14", "Tomotherapeutic Radiation Storage", ATTR},
	{C "481.15", "Robotic Arm Radiation Storage", ATTR},
	{C "481.16", "RT Radiation Record Set Storage", ATTR},
	{C "481.17", "RT Radiation Salvage Record Storage", ATTR},
	{C "481.18", "Tomotherapeutic Radiation Record Storage", ATTR},
	{C "481.19", "C-Arm Photon Electron Radiation Record Storage", ATTR},
	{C "481.20", "Robotic Radiation Record Storage", ATTR},
	{C "481.21", "RT Radiation Set Delivery Instruction Storage", ATTR},
	{C "481.22", "RT Treatment Preparation Storage", ATTR},
	{R "34.1", "RT Beams Delivery Instruction Storage (draft)", ATTR},
	{R "34.7", "RT Beams Delivery Instruction Storage", ATTR},
	{R "34.10", "RT Brachy Application Setup Delivery Instruction Storage", ATTR},
	{R "38.1", "Hanging Protocol Storage", ATTR},
	{R "39.1", "Color Palette Storage", ATTR},
	{R "43.1", "Generic Implant Template Storage", ATTR},
	{R "44.1", "Implant Assembly Template Storage", ATTR},
	{R "45.1", "Implant Template Group Storage", ATTR},
};

const struct dcm_sop_class *dcm_sop_class_find(const char *uid)
{
	for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
		if (!strcmp(classes[i].uid, uid))
			return &classes[i];
	return NULL;
}

/* Is uid root itself or below it in the UID tree (whole components)? */
static int uid_under(const char *uid, const char *root)
{
	size_t n = strlen(root);
	return !strncmp(uid, root, n) && (uid[n] == '.' || uid[n] == 0);
}

/* A class the table does not know keeps the rule sluice had before the
 * table: presumed to carry burned-in text when it lies in the ultrasound
 * (1.1.3, 1.1.6) or secondary capture (1.1.7) branches, where a newer
 * edition's variants of those classes would appear, or when its Modality is
 * US.  The branches are now matched by whole UID components. */
static const char *const prone_branches[] = {C "3", C "6", C "7"};

int dcm_burned_in_prone(const char *cls, const char *modality, const char **what)
{
	const struct dcm_sop_class *c = dcm_sop_class_find(cls);
	if (c) {
		*what = c->name;
		return c->burned_in == DCM_BI_PRONE;
	}
	*what = "a SOP class not in sluice's table, in the ultrasound or secondary capture branch";
	for (size_t i = 0; i < sizeof prone_branches / sizeof *prone_branches; i++)
		if (uid_under(cls, prone_branches[i]))
			return 1;
	*what = "a SOP class not in sluice's table, with Modality US";
	return !strcmp(modality, "US");
}
