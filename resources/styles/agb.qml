<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" enabled="false" maxOversampling="2"/>
    </provider>
    <rasterrenderer type="singlebandpseudocolor" band="1" classificationMin="0" classificationMax="500" alphaBand="-1" opacity="1" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader clip="0" minimumValue="0" maximumValue="500" colorRampType="INTERPOLATED" classificationMode="1" labelPrecision="6">
          <colorramp type="gradient" name="[source]">
            <Option type="Map">
              <Option type="QString" name="color1" value="249,241,203,255"/>
              <Option type="QString" name="color2" value="25,59,40,255"/>
              <Option type="QString" name="discrete" value="0"/>
              <Option type="QString" name="rampType" value="gradient"/>
              <Option type="QString" name="stops" value="0.02;219,218,155,255:0.05;183,197,113,255:0.1;143,176,81,255:0.2;105,154,61,255:0.3;70,131,51,255:0.4;43,108,47,255:0.6;28,84,45,255"/>
            </Option>
            <prop k="color1" v="249,241,203,255"/>
            <prop k="color2" v="25,59,40,255"/>
            <prop k="discrete" v="0"/>
            <prop k="rampType" v="gradient"/>
            <prop k="stops" v="0.02;219,218,155,255:0.05;183,197,113,255:0.1;143,176,81,255:0.2;105,154,61,255:0.3;70,131,51,255:0.4;43,108,47,255:0.6;28,84,45,255"/>
          </colorramp>
          <item alpha="255" value="0" color="#f9f1cb" label="0 Mg/ha"/>
          <item alpha="255" value="10" color="#dbda9b" label="10 Mg/ha"/>
          <item alpha="255" value="25" color="#b7c571" label="25 Mg/ha"/>
          <item alpha="255" value="50" color="#8fb051" label="50 Mg/ha"/>
          <item alpha="255" value="100" color="#699a3d" label="100 Mg/ha"/>
          <item alpha="255" value="150" color="#468333" label="150 Mg/ha"/>
          <item alpha="255" value="200" color="#2b6c2f" label="200 Mg/ha"/>
          <item alpha="255" value="300" color="#1c542d" label="300 Mg/ha"/>
          <item alpha="255" value="500" color="#193b28" label="500 Mg/ha"/>
          <rampLegendSettings suffix=" Mg/ha" prefix="" useContinuousLegend="0" minimumLabel="" orientation="2" maximumLabel="" direction="0">
            <numericFormat id="basic">
              <Option type="Map">
                <Option type="QChar" name="decimal_separator" value=""/>
                <Option type="int" name="decimals" value="6"/>
                <Option type="int" name="rounding_type" value="0"/>
                <Option type="bool" name="show_plus" value="false"/>
                <Option type="bool" name="show_thousand_separator" value="true"/>
                <Option type="bool" name="show_trailing_zeros" value="false"/>
                <Option type="QChar" name="thousand_separator" value=""/>
              </Option>
            </numericFormat>
          </rampLegendSettings>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" colorizeRed="255" invertColors="0" grayscaleMode="0" colorizeOn="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
